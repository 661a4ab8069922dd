#!/usr/bin/env bash
# Installs everything (scripts/install.sh), then boots the demo lab (two LANs joined by
# two FRR routers running OSPF) as an ordinary user and pings across it. With
# NK_DEMO=jupyter it starts JupyterLab on the demo notebook instead.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/install.sh"
user=${NK_DEMO_USER:-${SUDO_USER:-nkdemo}}
[ "$user" = root ] && user=nkdemo
id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
grep -q "^$user:" /etc/subuid || usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$user"
demo=$(su "$user" -s /bin/bash -c 'mktemp -d /tmp/nk-demo.XXXXXX')
cp -r /opt/nk-src/examples/ospf-demo/. "$demo/"
chown -R "$user:" "$demo"; chmod -R a+rX "$demo"
if [ "${NK_DEMO:-lab}" = jupyter ]; then
  cp /opt/nk-src/notebooks/*.ipynb "$demo/"; chown -R "$user:" "$demo"
  exec su "$user" -s /bin/bash -c "cd '$demo' && /opt/nk-venv/bin/jupyter lab --ip=127.0.0.1 --no-browser 03_ospf.ipynb"
fi
su "$user" -s /bin/bash -c "set -e; cd '$demo'; nk lstart; nk linfo; echo '--- waiting for OSPF'; \
  for i in \$(seq 60); do nk vcmd pc1 ping -c1 -W1 10.2.0.10 >/dev/null && break; sleep 1; done; \
  nk vcmd r1 vtysh -c 'show ip route ospf'; nk vcmd pc1 ping -c3 10.2.0.10; nk lhalt; nk lclean"
