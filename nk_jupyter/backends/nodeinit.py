"""The tiny pid 1 of each namespace node (munet's mutini), in a forked process.

Its life, talking to the supervisor over two pipes (JSON lines on `report`):
  1. set the hostname, build the node's root (linux/mounts.py) and, on first boot,
     write the machine's files (hosts, hostname, shared/ and
     MACHINE/ copied over /)                                  -> {"stage": "rooted"}
  2. wait for the supervisor to plug the veths, then bring lo and ethN up and write the
     lab's own sysctls                                        -> {"stage": "ready"}
  3. exec a small C init (catatonit -P) that only reaps orphans; without one, stay in
     Python and reap. When pid 1 exits the kernel kills the whole node.
"""
from __future__ import annotations

import fcntl
import gc
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
from dataclasses import dataclass

from ..linux import mounts, ns
from . import template

TINY_INITS = (["/usr/bin/catatonit", "-P"], ["/usr/libexec/podman/catatonit", "-P"])
HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"


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
    sysctls: tuple[tuple[str, str], ...] = ()  # written by the zygote before any interface exists
    first_boot: bool = True

    @classmethod
    def from_json(cls, d: dict) -> "NodeLayout":
        d = dict(d)
        d["host_top"] = tuple(tuple(x) for x in d["host_top"])
        d["sysctls"] = tuple(tuple(x) for x in d["sysctls"])
        return cls(**d)


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


def first_boot_files(name: str) -> list[str]:
    """Netkit's first boot: hosts and hostname, then shared/ and MACHINE/ over /. Returns problems."""
    problems: list[str] = []
    with open("/etc/hosts", "w") as f:
        f.write(HOSTS.format(name=name))
    with open("/etc/hostname", "w") as f:
        f.write(name + "\n")
    sources = [src for src in ("/hostlab/shared", f"/hostlab/{name}") if os.path.isdir(src) and not os.path.islink(src)]
    for src in sources:
        _copy_over(src, "/", problems)
    try:
        frr = pwd.getpwnam("frr")
    except KeyError:
        frr = None
    for conf in ("/etc/frr", "/etc/quagga"):  # configs the lab brought are handed to FRR's user
        if frr and any(os.path.isdir(src + conf) for src in sources):
            for dirpath, _dirs, files in os.walk(conf):
                os.chown(dirpath, frr.pw_uid, frr.pw_gid)
                for f in files:
                    os.chown(f"{dirpath}/{f}", frr.pw_uid, frr.pw_gid)
                    os.chmod(f"{dirpath}/{f}", 0o640)
    return problems


def _copy_over(src: str, dst: str, problems: list[str]) -> None:
    """cp -r --no-preserve=ownership --no-dereference of src's contents onto dst."""
    for dirpath, dirs, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = os.path.normpath(os.path.join(dst, rel))
        try:
            os.makedirs(target, exist_ok=True)
        except OSError as e:
            problems.append(f"{target}: {e.strerror}")
            dirs[:] = []
            continue
        for entry in dirs + files:
            s, d = f"{dirpath}/{entry}", f"{target}/{entry}"
            try:
                if os.path.islink(s):
                    if os.path.lexists(d) and not os.path.isdir(d):
                        os.unlink(d)
                    os.symlink(os.readlink(s), d)
                    if entry in dirs:
                        dirs.remove(entry)
                elif entry in files:
                    shutil.copyfile(s, d)
                    os.chmod(d, stat.S_IMODE(os.stat(s).st_mode))
            except OSError as e:
                problems.append(f"{d}: {e.strerror}")


def write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


def set_up(ifname: str) -> None:
    """Bring an interface up (SIOCGIFFLAGS/SIOCSIFFLAGS, as ifconfig does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", ifname.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", ifname.encode(), flags | 1))


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


def _say(fd: int, msg: dict) -> None:
    os.write(fd, (json.dumps(msg) + "\n").encode())


def run(lay: NodeLayout, report_fd: int, go_fd: int) -> None:
    """Body of the node's pid 1. Never returns."""
    import time
    t0 = time.perf_counter()
    c0 = time.thread_time()
    try:
        ns.sethostname(lay.name)
        build_root(lay)
        t_root = time.perf_counter() - t0
        c_root = time.thread_time() - c0
        os.chdir("/root")
        problems = first_boot_files(lay.name) if lay.first_boot else []
    except Exception as e:  # report any failure to the supervisor, then die
        _say(report_fd, {"error": f"{type(e).__name__}: {e}"})
        os._exit(1)
    _say(report_fd, {"stage": "rooted", "problems": problems, "root_s": t_root, "root_cpu_s": c_root,
                     "all_s": time.perf_counter() - t0})
    with os.fdopen(go_fd) as go:
        line = go.readline()
    if not line:
        os._exit(1)
    orders = json.loads(line)
    warnings = []
    for ifname in orders.get("up", []):
        try:
            set_up(ifname)
        except OSError as e:
            warnings.append(f"cannot bring {ifname} up: {e.strerror}")
    for key, value in orders.get("sysctls", []):
        try:
            write_sysctl(key, value)
        except OSError as e:
            warnings.append(f"sysctl {key}={value}: {e.strerror}")
    _say(report_fd, {"stage": "ready", "warnings": warnings})
    os.close(report_fd)
    for tiny in TINY_INITS:  # a small C init keeps an idle node at about 50 KiB
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
