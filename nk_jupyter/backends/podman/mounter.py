"""Run by the podman backend's host half as `podman unshare python -P -c ... mounter SOCKFD ID...` (selfrun.py):
inside podman's user and mount namespaces, where an image's files can be mounted.

For each image ID: `podman image mount`, a read-only detached copy of that tree
(linux/mounts.detached_copy), `podman image unmount` (always). The copies go back over the
inherited socket, one message per image ({"id", "error"} and the descriptor). Nothing stays
mounted in podman's namespaces; a copy lives as long as a descriptor or a mount of it.
"""
from __future__ import annotations

import socket
import subprocess
import sys

from ... import wire
from ...linux import mounts


def _podman(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=60)


def copy_of(image_id: str) -> int:
    done = _podman("image", "mount", image_id)
    if done.returncode != 0:
        raise OSError(f"podman image mount: {done.stderr.strip() or done.returncode}")
    try:
        return mounts.detached_copy(done.stdout.strip().splitlines()[-1])
    finally:
        _podman("image", "unmount", image_id)


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    for image_id in argv[1:]:
        try:
            fd = copy_of(image_id)
        except (OSError, IndexError, subprocess.SubprocessError) as e:
            wire.send(sock, {"id": image_id, "error": str(e)})
            continue
        wire.send(sock, {"id": image_id, "error": ""}, fds=[fd])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
