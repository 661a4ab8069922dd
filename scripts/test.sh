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
"$NK_VENV/bin/pip" install -q playwright >/dev/null 2>&1 || true
work=$(mktemp -d /tmp/nk-tests.XXXXXX)
cp -r /opt/nk-src/tests "$work/"
cp /opt/nk-src/pyproject.toml "$work/"
[ -d /opt/nk-src/notebooks ] && cp -r /opt/nk-src/notebooks "$work/"
mkdir -p "$work/tests/artifacts"
chown -R "$user:" "$work"
status=0
su "$user" -s /bin/bash -c "cd '$work' && XDG_RUNTIME_DIR= HOME=/home/$user '$NK_VENV/bin/python' -m pytest -p no:cacheprovider -q -rs --timeout=900 tests" || status=$?
if [ -d "$work/tests/artifacts" ] && [ -n "${NK_ARTIFACTS:-}" ]; then cp -r "$work/tests/artifacts" "$NK_ARTIFACTS"; fi
su "$user" -s /bin/bash -c "'$NK_VENV/bin/nk' wipe" >/dev/null 2>&1 || true
rm -rf "$work"
exit $status
