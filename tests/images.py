"""Container images for tests, built here (`podman import` of a busybox-static root
filesystem): no registry is reached (tests/registries.conf blocks them all)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

BUSYBOX = "/bin/busybox"
IMAGE = "localhost/nktest-bb:1"
KATHARA = "docker.io/kathara/nktest-base:latest"   # what a Kathara lab's `kathara/nktest-base` means
OTHER = "localhost/nktest-bb:2"                     # the same files, another image id
NOSHELL = "localhost/nktest-noshell:1"

needs_podman = [
    pytest.mark.skipif(not shutil.which("podman"), reason="podman is not installed (apt install podman)"),
    pytest.mark.skipif(not os.path.isfile(BUSYBOX), reason="no static busybox (apt install busybox-static)"),
]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {r.stderr}")
    return r


def _rootfs_tar(where: Path, marker: str, shell: bool = True) -> Path:
    """A tiny image: busybox and its applets, root in /etc/passwd, /etc/image-marker."""
    root = where / f"rootfs-{marker}"
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var/www"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "etc" / "image-marker").write_text(marker + "\n")
    (root / "var" / "www" / "index.html").write_text("served from the image\n")
    if shell:
        shutil.copy(BUSYBOX, root / "bin" / "busybox")
        applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True).stdout.split()
        for applet in applets:
            link = root / applet
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                os.symlink("/bin/busybox", link)
    tar = where / f"{marker}.tar"
    with tarfile.open(tar, "w") as t:
        t.add(root, arcname=".")
    return tar


def build_images(where: Path):
    """Build the test images; a generator: removes them after its yield."""
    podman("import", "--change", "CMD=/bin/sh", "--change", "ENV=GREETING=from-the-image",
           str(_rootfs_tar(where, "one")), IMAGE)
    podman("tag", IMAGE, KATHARA)
    podman("import", "--change", "CMD=/bin/sh", str(_rootfs_tar(where, "two")), OTHER)
    podman("import", str(_rootfs_tar(where, "noshell", shell=False)), NOSHELL)
    yield
    podman("rmi", "-f", IMAGE, KATHARA, OTHER, NOSHELL, check=False)
    _end_pause_process()


def _end_pause_process() -> None:
    """Rootless podman leaves a pause process (catatonit -P) holding its user namespace; the
    tests leave nothing running, so it goes too (podman starts a new one when next used)."""
    import signal
    run = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/podman-run-{os.getuid()}"
    try:
        pid = int(Path(run, "libpod", "tmp", "pause.pid").read_text())
        if Path(f"/proc/{pid}/comm").read_text().strip() == "catatonit":
            os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        pass


