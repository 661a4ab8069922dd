#!/usr/bin/env bash
# As root: install what the hub needs (nk-jupyter with scripts/install.sh if absent,
# JupyterHub, configurable-http-proxy) and start JupyterHub for a class (jupyterhub_config.py).
# --install-only: install, do not start.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
NK_VENV=${NK_VENV:-/opt/nk-venv}
[ -x "$NK_VENV/bin/nk" ] && [ -x /opt/nk-build-venv/bin/node ] || bash "$repo/scripts/install.sh"
"$NK_VENV/bin/pip" install -q "jupyterhub>=5,<6" >/dev/null
if [ ! -x /opt/nk-hub/node_modules/.bin/configurable-http-proxy ]; then
  mkdir -p /opt/nk-hub
  (cd /opt/nk-hub && PATH="/opt/nk-build-venv/bin:$PATH" NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
     npm install --no-audit --no-fund --loglevel=error configurable-http-proxy@4 >/dev/null)
fi
chmod -R a+rX "$NK_VENV"
[ "${1:-}" = --install-only ] && exit 0
cd "${NK_HUB_DATA:-/var/lib/nk-hub}" 2>/dev/null || { mkdir -p -m 700 "${NK_HUB_DATA:-/var/lib/nk-hub}"; cd "${NK_HUB_DATA:-/var/lib/nk-hub}"; }
exec "$NK_VENV/bin/jupyterhub" -f "$here/jupyterhub_config.py"
