"""The tiny pid 1 of each namespace node (munet's mutini, in a forked process).

It builds the node's root (linux/mounts.py), reports success or the error on a pipe,
then only reaps orphans until it is told to stop. When it exits, the kernel kills
everything left in the node's pid namespace.
"""
from __future__ import annotations

import gc
import json
import os
import signal
from dataclasses import dataclass

from ..linux import mounts, ns
from . import template


@dataclass(frozen=True)
class NodeLayout:
    """Everything a node's init needs to build its root; plain data, made by the supervisor."""
    name: str
    root: str            # empty folder to mount the node's / on
    disk: str            # the node's private files (upper dirs, root, home)
    template: str        # the lab's template of host files
    labdir: str          # mounted at /hostlab
    shims: str           # mounted at /run/nk (systemctl shim ...)
    host_top: tuple[tuple[str, str], ...]  # host's top-level entries: (name, "dir"|"link:TARGET")
    sysctls: tuple[tuple[str, str], ...] = ()  # written before any interface exists


def build_root(lay: NodeLayout) -> None:
    r = lay.root
    mounts.tmpfs(r, "755")
    for name, kind in lay.host_top:
        path = f"{r}/{name}"
        if kind.startswith("link:"):
            os.symlink(kind[5:], path)
            continue
        os.mkdir(path)
        if name in template.PRIVATE_DIRS:
            lowers = ([f"{lay.template}/{name}"] if name in template.COPIED_DIRS else []) + [f"/{name}"]
            mounts.overlay(path, lowers, f"{lay.disk}/{name}/upper", f"{lay.disk}/{name}/work")
        elif name in template.EMPTY_DIRS:
            os.makedirs(f"{lay.disk}/{name}", mode=0o700, exist_ok=True)
            ns.bind(f"{lay.disk}/{name}", path)
        elif name == "tmp":
            mounts.tmpfs(path, "1777")
        elif name == "run":
            mounts.tmpfs(path, "755")
            os.makedirs(f"{path}/lock", mode=0o1777)
            os.chmod(f"{path}/lock", 0o1777)
            os.mkdir(f"{path}/nk")
            ns.bind(lay.shims, f"{path}/nk", readonly=True)
        elif name == "proc":
            ns.mount("proc", path, "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
        elif name == "sys":
            ns.mount("sysfs", path, "sysfs", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC | ns.MS_RDONLY)
        elif name == "dev":
            mounts.make_dev(path)
        elif name in ("mnt", "media", "lost+found", "hostlab", "shared"):
            pass
        else:
            mounts.bind_readonly(f"/{name}", path)
    for name, src in (("hostlab", lay.labdir), ("shared", f"{lay.labdir}/shared")):
        if os.path.isdir(src) and not os.path.islink(src):
            os.makedirs(f"{r}/{name}", exist_ok=True)
            ns.bind(src, f"{r}/{name}")
    mounts.pivot(r)


TINY_INITS = (["/usr/bin/catatonit", "-P"], ["/usr/libexec/podman/catatonit", "-P"])


def write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


def host_top_level() -> tuple[tuple[str, str], ...]:
    """The host's / entries, read once per lab by the supervisor."""
    out = []
    for e in sorted(os.scandir("/"), key=lambda e: e.name):
        if e.is_symlink():
            out.append((e.name, "link:" + os.readlink(e.path)))
        elif e.is_dir(follow_symlinks=False):
            out.append((e.name, "dir"))
    for must in ("proc", "sys", "dev", "tmp", "run", "root", "home", "etc", "var"):
        if all(n != must for n, _ in out):
            out.append((must, "dir"))
    return tuple(out)


def run(lay: NodeLayout, report_fd: int) -> None:
    """Body of the node's pid 1. Never returns."""
    try:
        ns.sethostname(lay.name)
        build_root(lay)
        os.chdir("/root")
        for key, value in lay.sysctls:
            write_sysctl(key, value)
    except Exception as e:  # report any failure to the supervisor, then die
        os.write(report_fd, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
        os._exit(1)
    os.write(report_fd, b'{"ok": true}')
    os.close(report_fd)
    for tiny in TINY_INITS:  # a small C init keeps an idle node at about 100 KiB
        if os.access(tiny[0], os.X_OK):
            try:
                os.execv(tiny[0], tiny)
            except OSError:
                pass
    _reap_forever()


def _reap_forever() -> None:
    gc.disable()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            signal.pause()
        except InterruptedError:
            pass
