#!/usr/bin/env bash
# Installs everything (scripts/install.sh), then runs the whole test suite as an
# ordinary user with a sub-ID range, as a student would run the product.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/install.sh"
NK_VENV=${NK_VENV:-/opt/nk-venv}
user=${NK_TEST_USER:-nkci}
if ! id "$user" >/dev/null 2>&1; then
  useradd -m -s /bin/bash "$user"
fi
grep -q "^$user:" /etc/subuid || usermod --add-subuids 200000-265535 "$user"
grep -q "^$user:" /etc/subgid || usermod --add-subgids 200000-265535 "$user"
# A second ordinary user, for the test that one user cannot reach another's labs
# (the test user may act as it through sudo, without a password).
other=${NK_TEST_OTHER_USER:-nkci2}
id "$other" >/dev/null 2>&1 || useradd -m -s /bin/bash "$other"
grep -q "^$other:" /etc/subuid || usermod --add-subuids 270000-335535 --add-subgids 270000-335535 "$other"
command -v sudo >/dev/null || apt-get install -y -qq --no-install-recommends sudo >/dev/null
echo "$user ALL=($other) NOPASSWD: ALL" > /etc/sudoers.d/nk-tests && chmod 440 /etc/sudoers.d/nk-tests
# A delegated cgroup for mem/cpus/pids limits, as systemd (Delegate=yes) or a JupyterHub
# spawner gives one; the test run is moved into its runner leaf.
cg_env=$(bash "$here/scripts/cgroup-delegate.sh" "$user" nk-ci 2>/dev/null || true)
for line in $cg_env; do echo $$ > "${line#*=}/runner/cgroup.procs" 2>/dev/null || true; done
"$NK_VENV/bin/pip" install -q playwright >/dev/null 2>&1 || true
# A fresh venv with only `pip install <the wheel>` (tests/jupyter/test_wheel.py uses it)
wheel_venv=${NK_WHEEL_VENV:-/opt/nk-wheel-venv}
dist=$(mktemp -d /tmp/nk-dist.XXXXXX)
"$NK_VENV/bin/pip" wheel -q --no-deps /opt/nk-src -w "$dist" >/dev/null 2>&1
rm -rf "$wheel_venv" && /usr/bin/python3 -m venv "$wheel_venv"
"$wheel_venv/bin/pip" install -q "$dist"/nk_jupyter-*.whl >/dev/null
chmod -R a+rX "$wheel_venv" && rm -rf "$dist"
work=$(mktemp -d /tmp/nk-tests.XXXXXX)
cp -r /opt/nk-src/tests "$work/"
cp /opt/nk-src/pyproject.toml "$work/"
[ -d /opt/nk-src/notebooks ] && cp -r /opt/nk-src/notebooks "$work/"
[ -d /opt/nk-src/deploy ] && cp -r /opt/nk-src/deploy "$work/"
mkdir -p "$work/tests/artifacts"
chown -R "$user:" "$work"
status=0
su "$user" -s /bin/bash -c "cd '$work' && $(echo $cg_env) XDG_RUNTIME_DIR= HOME=/home/$user NK_WHEEL_VENV='$wheel_venv' '$NK_VENV/bin/python' -m pytest -p no:cacheprovider -q -rs --timeout=900 tests" || status=$?
# The JupyterHub test runs as root (the hub spawns servers as real Unix students)
bash /opt/nk-src/deploy/jupyterhub/start.sh --install-only
(cd "$work" && "$NK_VENV/bin/python" -m pytest -p no:cacheprovider -q -rs --timeout=600 tests/hub) || status=$?
if [ -d "$work/tests/artifacts" ] && [ -n "${NK_ARTIFACTS:-}" ]; then cp -r "$work/tests/artifacts" "$NK_ARTIFACTS"; fi
su "$user" -s /bin/bash -c "$(echo $cg_env) '$NK_VENV/bin/nk' wipe" >/dev/null 2>&1 || true
su "$other" -s /bin/bash -c "XDG_RUNTIME_DIR= '$NK_VENV/bin/nk' wipe" >/dev/null 2>&1 || true
for line in $cg_env; do  # leave the delegated cgroups and remove them
  d=${line#*=}; echo $$ > "$(dirname "$d")/cgroup.procs" 2>/dev/null || true
  find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
done
rm -rf "$work"
exit $status
