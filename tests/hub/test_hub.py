"""A real JupyterHub (deploy/jupyterhub) with two real Unix users: both log in through the
REST API (the admin service creates their tokens), start their servers, boot labs with the
same machine names at the same time from a kernel (the kernel protocol over the websocket,
as JupyterLab speaks it), and each sees only their own; one student's crash and `nk wipe`
leave the other's lab running. Runs as root (the hub spawns servers as the students);
scripts/test.sh runs it after the ordinary user's tests. All traffic is on 127.0.0.1."""
from __future__ import annotations

import os
import pwd
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .hubclient import VENV, Hub, Kernel, labs_of, login, start_server

STUDENTS = ("nkhuba", "nkhubb")


def _reason() -> str | None:
    if os.getuid() != 0:
        return "the hub test runs as root (the hub spawns servers as students); scripts/test.sh runs it"
    if not (VENV / "bin" / "jupyterhub").exists():
        return "JupyterHub is not installed (bash deploy/jupyterhub/start.sh --install-only)"
    if not Path("/opt/nk-hub/node_modules/configurable-http-proxy").is_dir():
        return "configurable-http-proxy is not installed (bash deploy/jupyterhub/start.sh --install-only)"
    return None


pytestmark = pytest.mark.skipif(_reason() is not None, reason=_reason() or "")


@pytest.fixture
def hub(tmp_path):
    for user in STUDENTS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], check=True)
    data = tmp_path / "hub"
    data.mkdir()
    h = Hub(data, NK_HUB_MEMORY="3G", NK_HUB_PIDS="3000", NK_HUB_MACHINES="8")
    yield h
    for user in STUDENTS:
        h.api("DELETE", f"/hub/api/users/{user}/server")
    time.sleep(1)
    h.stop()
    left = subprocess.run(["pgrep", "-f", f"configurable-http-proxy.*--port {h.port}"], capture_output=True, text=True)
    assert not left.stdout.strip(), "the hub's proxy outlived it"
    for user in STUDENTS:
        subprocess.run(["su", user, "-s", "/bin/bash", "-c", f"XDG_RUNTIME_DIR= {VENV}/bin/nk wipe"],
                       capture_output=True)


BOOT = """
%%lab same --no-topo
pc1[0]=A
pc2[0]=A
--- pc1.startup ---
ip addr add 10.0.0.1/24 dev eth0
--- pc2.startup ---
ip addr add 10.0.0.2/24 dev eth0
"""
CHECK = "r = %vcmd -q pc1 ping -c 2 -W 2 10.0.0.2\nimport os\nprint('user', os.getuid(), 'ping', r.status)"


def test_two_students_same_lab_names_isolated(hub):
    tokens = {user: login(hub, user) for user in STUDENTS}
    for user in STUDENTS:
        start_server(hub, user, tokens[user])
    # the subuid ranges were made for the new users
    subuid = Path("/etc/subuid").read_text()
    assert all(f"{user}:" in subuid for user in STUDENTS)
    # a student's token does not open another's server
    assert hub.api("GET", f"/user/{STUDENTS[1]}/nk/api/labs", token=tokens[STUDENTS[0]])[0] in (403, 404, 302)
    # both boot a lab with the same name and machine names at the same time
    kernels = {user: Kernel(hub, user, tokens[user]) for user in STUDENTS}
    said: dict[str, str] = {}
    threads = [threading.Thread(target=lambda u=u: said.__setitem__(u, kernels[u].run(BOOT + "\n"))) for u in STUDENTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=200)
    for user in STUDENTS:
        assert "2 of 2 machines running" in said[user], (user, said[user])
    for user in STUDENTS:
        out = kernels[user].run(CHECK)
        assert f"user {pwd.getpwnam(user).pw_uid} ping 0" in out, (user, out)
        labs = labs_of(hub, user, tokens[user])
        assert [lab["name"] for lab in labs] == ["same"], labs
        assert str(pwd.getpwnam(user).pw_uid) in labs[0]["directory"] or user in labs[0]["directory"], labs
    # the limit the admin set (8 machines each) holds per student
    out = kernels[STUDENTS[0]].run("%%lab big --no-topo\n" + "".join(f"m{i}[0]=A\n" for i in range(7)))
    assert "NK_MAX_MACHINES" in out, out
    # one student's crash and wipe leave the other's lab running
    out = kernels[STUDENTS[0]].run("%lcrash -d same\nimport subprocess\n"
                                   "print(subprocess.run(['nk', 'wipe'], capture_output=True, text=True).returncode)")
    assert out.strip().endswith("0"), out
    assert labs_of(hub, STUDENTS[0], tokens[STUDENTS[0]]) == []
    other = labs_of(hub, STUDENTS[1], tokens[STUDENTS[1]])
    assert [lab["name"] for lab in other] == ["same"] and all(m["state"] == "running" for m in other[0]["machines"])
    assert "ping 0" in kernels[STUDENTS[1]].run(CHECK)
    for kernel in kernels.values():
        kernel.close()
