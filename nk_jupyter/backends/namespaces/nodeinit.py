"""The tiny pid 1 of each namespace machine (munet's mutini), in a process forked by the zygote.

Where a machine's namespaces come from (docs/security.md has the why):

    lab user ns U (the supervisor: root of U, full capabilities over everything below)
     └─ machines' user ns U2 (made once per lab; its NPROC budget caps the whole lab)
         └─ this machine's user ns Um (owned by a uid of its own: its NPROC budget caps it)
              owns the machine's net, uts, ipc, cgroup and (final) mount namespaces.
    The pid namespace, and the mount namespace the root is built in, belong to U.

The init starts as root of U in a mount namespace of U's, so every mount it makes there
(the read-only views of the host above all) is *locked* once it moves into Um and copies
that namespace: nothing in the machine can remount them read-write or unmount them to see
what they cover. Machine root holds capabilities only in Um: it cannot enter or act on the
supervisor's namespaces, even with a file descriptor of one.

Its life, talking to the supervisor over one socket (nk_jupyter.wire frames):
  1. close every inherited fd it does not need; join the machine's cgroup; have a helper
     child make Um with the machine's net/uts/ipc/cgroup namespaces; join those; set the
     hostname and the default sysctls (no interface exists yet)          -> {"stage": "ns"}
     (the supervisor now plugs the veths into this netns)
  2. build the root (linux/mounts.py), pivot_root into it, write Um's id map, move into Um
     and a locked copy of the mount namespace                            -> {"stage": "rooted"}
     + an O_PATH fd of the machine's /dev/pts (the supervisor opens terminals there)
  3. wait for "go", bring lo and ethN up, write the lab's sysctls and, on first boot, hosts
     and hostname                                                        -> {"stage": "ready"}
  4. exec a small C init (catatonit -P) that only reaps orphans; the socket closes with the exec.
Until that exec the process is not dumpable, so nothing in the machine can ptrace it or open
its /proc/PID/fd. Lab files are never touched here: the first-boot copy of shared/ and
MACHINE/ runs later as machine root (engine/bootscript.py).
"""
from __future__ import annotations

import fcntl
import gc
import os
import resource
import signal
import socket
import struct
import time
from dataclasses import dataclass

from ... import wire
from ...linux import mounts, ns, paths
from . import template

TINY_INITS = (["/usr/bin/catatonit", "-P"], ["/usr/libexec/podman/catatonit", "-P"])
HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
MACHINE_NS = ns.CLONE_NEWNET | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC | ns.CLONE_NEWCGROUP

# What a machine sees of the host's top level, by kind (anything else of the host: nothing).
# Every part of its root is its own and copy-on-write (Netkit's and Kathara's machines are).
PROGRAMS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")  # over the template's skeleton
COPY_ON_WRITE = ("etc", "var", "opt")  # etc, var: of the template's copies; opt: of the host's
OWN = ("root", "home", "srv")          # the machine's own folders, kept by lhalt
FRESH = ("tmp", "run")                  # empty at every boot, on the lab's capped scratch space
EMPTY = ("mnt", "media", "hostlab", "shared")
DEV_SIZE = "1m"
HIDDEN_PROC = ("keys", "key-users")
VCS_DIRS = (".git", ".hg", ".svn")
DPKG_INFO = "var/lib/dpkg/info"  # dpkg's file lists: the host's, under the machine's own changes


@dataclass(frozen=True)
class NodeLayout:
    """Everything a machine's init needs; plain data made by the supervisor.

    labfd and usernsfd are descriptor numbers valid in the zygote (and so in its children):
    the lab folder (O_PATH, opened once by the supervisor) and the machines' user namespace.
    """
    name: str
    root: str            # the folder (with the disk) that becomes the machine's /
    scratch: str         # folder on the scratch space for /tmp, /run, /dev/shm
    disk: str            # the machine's kept files: overlay upper dirs, /root, /home, /srv
    template: str        # the lab's template of host files (etc, var)
    labdir: str          # the lab folder (its descriptor is labfd)
    shims: str           # mounted read-only at /run/nk (systemctl shim ...)
    host_top: tuple[tuple[str, str], ...]  # (name, "dir" | "link:TARGET") of what the machine sees
    labfd: int
    usernsfd: int
    owner_uid: int       # owner of the machine's user namespace, unique in the lab
    nproc: int           # most processes and threads the machine may have at once
    cgroup: str = ""     # the machine's cgroup folders (":"-separated), if the lab has delegated ones
    sysctls: tuple[tuple[str, str], ...] = ()  # defaults, written before any interface exists

    @classmethod
    def from_json(cls, d: dict) -> "NodeLayout":
        d = dict(d)
        d["host_top"] = tuple(tuple(x) for x in d["host_top"])
        d["sysctls"] = tuple(tuple(x) for x in d["sysctls"])
        return cls(**d)


def host_top_level() -> tuple[tuple[str, str], ...]:
    """The host's / entries a machine shows (read once per lab by the supervisor)."""
    shown = set(PROGRAMS + COPY_ON_WRITE)
    out = []
    for e in sorted(os.scandir("/"), key=lambda e: e.name):
        if e.name not in shown:
            continue
        if e.is_symlink():
            out.append((e.name, "link:" + os.readlink(e.path)))
        elif e.is_dir(follow_symlinks=False):
            out.append((e.name, "dir"))
    names = {n for n, _ in out}
    out += [(n, "dir") for n in ("etc", "var") + OWN + FRESH + EMPTY + ("proc", "sys", "dev") if n not in names]
    return tuple(sorted(out))


def build_root(lay: NodeLayout) -> None:
    """Mount the machine's / on lay.root (in a mount namespace of the lab's user ns).

    lay.root is kept with the machine's disk: what it makes at the top level (/scripts, /data)
    stays for its next boot; the names nk mounts on are made real, empty folders again first.
    """
    r = lay.root
    os.makedirs(r, exist_ok=True)
    ns.bind(r, r)  # a mount point of its own, for pivot_root
    for name, kind in lay.host_top:
        path = f"{r}/{name}"
        _clear(path, kind)
        if kind.startswith("link:"):
            os.symlink(kind[5:], path)
            continue
        if name in PROGRAMS:
            mounts.overlay(path, [f"{lay.template}/{name}", f"/{name}"], f"{lay.disk}/{name}/upper",
                           f"{lay.disk}/{name}/work")
        elif name in COPY_ON_WRITE:
            lowers = [f"{lay.template}/{name}"] if name in template.COPIED_DIRS else [f"/{name}"]
            mounts.overlay(path, lowers, f"{lay.disk}/{name}/upper", f"{lay.disk}/{name}/work")
            if name == "var" and os.path.isdir(f"{lay.template}/{DPKG_INFO}") and os.path.isdir(f"/{DPKG_INFO}"):
                mounts.overlay(f"{r}/{DPKG_INFO}", [f"{lay.template}/{DPKG_INFO}", f"/{DPKG_INFO}"],
                               f"{lay.disk}/dpkg-info/upper", f"{lay.disk}/dpkg-info/work")
        elif name in OWN:
            os.makedirs(f"{lay.disk}/{name}", mode=0o700 if name == "root" else 0o755, exist_ok=True)
            ns.bind(f"{lay.disk}/{name}", path)
        elif name in FRESH:
            fresh = f"{lay.scratch}/{name}"
            os.makedirs(fresh)
            os.chmod(fresh, 0o1777 if name == "tmp" else 0o755)
            ns.bind(fresh, path)
            if name == "run":
                os.makedirs(f"{path}/lock")
                os.chmod(f"{path}/lock", 0o1777)
                os.mkdir(f"{path}/nk")
                ns.bind(lay.shims, f"{path}/nk", readonly=True)
        elif name == "proc":
            ns.mount("proc", path, "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
            for hidden in HIDDEN_PROC:  # they list the user's keys (machine root has the user's uid)
                if os.path.exists(f"{path}/{hidden}"):
                    ns.mount("/dev/null", f"{path}/{hidden}", None, ns.MS_BIND)
        elif name == "sys":
            ns.mount("sysfs", path, "sysfs", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC | ns.MS_RDONLY)
        elif name == "dev":
            mounts.make_dev(path, DEV_SIZE, shm=f"{lay.scratch}/shm")
    _mount_lab(lay)
    mounts.pivot(r)


def _clear(path: str, kind: str) -> None:
    """Make path what the layout needs: an empty folder to mount on (or nothing, for a link),
    whatever the machine left there (a symlink is removed, never followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        import stat as stat_
        if kind.startswith("link:") or not stat_.S_ISDIR(st.st_mode):
            if stat_.S_ISDIR(st.st_mode):
                paths.remove_tree(path)
            else:
                os.unlink(path)
            st = None
    if st is None and not kind.startswith("link:"):
        os.mkdir(path)


def _mount_lab(lay: NodeLayout) -> None:
    """/hostlab and /shared, bound by descriptor: the lab folder the supervisor opened, and the
    real folder `shared` beneath it at this instant (a symlink, or anything outside, is refused
    by the kernel, so a machine already running cannot swap it for another folder).

    A bind needs a descriptor of this mount namespace, so the lab folder is opened again here by
    its path (which no machine can change: they see only what is inside it) and must be the
    very folder the supervisor opened.
    """
    here = paths.open_dir(lay.labdir)
    try:
        a, b = os.fstat(here), os.fstat(lay.labfd)
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            raise OSError(f"the lab folder {lay.labdir} was replaced while the lab runs")
        ns.mount(f"/proc/self/fd/{here}", f"{lay.root}/hostlab", None, ns.MS_BIND)
        for vcs in VCS_DIRS:  # a repository's hooks and config would run as the user later: read-only
            repo = paths.subdir(here, vcs)
            if repo is not None:
                try:
                    ns.bind(f"/proc/self/fd/{repo}", f"{lay.root}/hostlab/{vcs}", readonly=True)
                finally:
                    os.close(repo)
        shared = paths.subdir(here, "shared")
        if shared is not None:
            try:
                ns.mount(f"/proc/self/fd/{shared}", f"{lay.root}/shared", None, ns.MS_BIND)
            finally:
                os.close(shared)
    finally:
        os.close(here)


def write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


def set_up(ifname: str) -> None:
    """Bring an interface up (SIOCGIFFLAGS/SIOCSIFFLAGS, as ifconfig does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", ifname.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", ifname.encode(), flags | 1))


def _keep_only(fds: set[int]) -> None:
    """Close every descriptor but these (the zygote's own and the supervisor's are inherited)."""
    top = max(fds) + 1
    last = 0
    for fd in sorted(fds):
        if fd > last:
            os.closerange(last, fd)
        last = fd + 1
    os.closerange(top, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _devnull_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


class _Maker:
    """A child that makes the machine's user namespace (as lay.owner_uid of U2, with the NPROC
    budget) and its net/uts/ipc/cgroup namespaces, then waits to be released."""

    def __init__(self, lay: NodeLayout) -> None:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            try:
                _keep_only({w1, r2, lay.usernsfd})  # it turns dumpable below: nothing else of ours
                ns.setns(lay.usernsfd, ns.CLONE_NEWUSER)
                if lay.owner_uid:  # (a single-ID lab has only uid 0, and setgroups denied)
                    os.setgroups([])
                    os.setresgid(lay.owner_uid, lay.owner_uid, lay.owner_uid)
                    os.setresuid(lay.owner_uid, lay.owner_uid, lay.owner_uid)
                resource.setrlimit(resource.RLIMIT_NPROC, (lay.nproc, lay.nproc))
                ns.dumpable()  # so that the init may write our map; nothing runs in the machine yet
                ns.unshare(ns.CLONE_NEWUSER | MACHINE_NS)
                os.write(w1, b"u")
                os.read(r2, 1)
            except BaseException as e:
                os.write(w1, f"e{e}".encode())
            finally:
                os._exit(0)
        os.close(w1)
        os.close(r2)
        self._release = w2
        answer = os.read(r1, 4096)
        if answer != b"u":
            raise OSError(f"could not make the machine's user namespace: {answer[1:].decode(errors='replace')}")
        os.close(r1)
        self.pidfd = os.pidfd_open(self.pid)

    def release(self) -> None:
        os.close(self._release)
        os.waitpid(self.pid, 0)
        os.close(self.pidfd)


def run(lay: NodeLayout, sock: socket.socket) -> None:
    """Body of the machine's pid 1 (in the lab's user ns, in a new pid and mount ns). Never returns."""
    t0 = time.perf_counter()
    c0 = time.thread_time()
    try:
        _keep_only({sock.fileno(), lay.labfd, lay.usernsfd})
        _devnull_stdio()
        for folder in filter(None, lay.cgroup.split(":")):  # before anything forks
            with open(f"{folder}/cgroup.procs", "w") as f:
                f.write("0")
        maker = _Maker(lay)
        ns.setns(maker.pidfd, MACHINE_NS)
        ns.sethostname(lay.name)
        for key, value in lay.sysctls:  # before any interface exists, so "default" applies to all
            try:
                write_sysctl(key, value)
            except FileNotFoundError:  # e.g. a host booted with ipv6.disable=1
                pass
        wire.send(sock, {"stage": "ns"})
        build_root(lay)
        pts = os.open("/dev/pts", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        ns.setns(lay.usernsfd, ns.CLONE_NEWUSER)  # into U2, whose members may write Um's map
        ns.mirror_idmaps(maker.pid)               # the machine's /proc: the maker is maker.pid
        ns.setns(maker.pidfd, ns.CLONE_NEWUSER)   # into Um: from here on, machine root
        ns.unshare(ns.CLONE_NEWNS)                # a copy of our mounts, locked
        maker.release()
        os.close(lay.labfd)
        os.close(lay.usernsfd)
        t_root = time.perf_counter() - t0
        c_root = time.thread_time() - c0
    except Exception as e:  # report any failure to the supervisor, then die
        _fail(sock, e)
    wire.send(sock, {"stage": "rooted", "root_s": t_root, "root_cpu_s": c_root,
                     "all_s": time.perf_counter() - t0}, fds=[pts])
    os.close(pts)
    try:
        orders, _ = wire.recv(sock)
    except (EOFError, OSError, wire.ProtocolError):
        os._exit(1)
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
    sh = "bash" if orders.get("sh") == "bash" else "dash"  # Netkit labs' #!/bin/sh may be bash's
    try:
        if os.readlink("/bin/sh") != sh and os.path.exists(f"/bin/{sh}"):
            os.unlink("/bin/sh")
            os.symlink(sh, "/bin/sh")
    except OSError as e:
        warnings.append(f"cannot make /bin/sh {sh}: {e.strerror}")
    if orders.get("first_boot"):
        try:
            with open("/etc/hosts", "w") as f:
                f.write(HOSTS.format(name=lay.name))
            with open("/etc/hostname", "w") as f:
                f.write(lay.name + "\n")
        except OSError as e:
            warnings.append(f"cannot write /etc/hosts or /etc/hostname: {e.strerror}")
    wire.send(sock, {"stage": "ready", "warnings": warnings})
    os.chdir("/root")  # commands start where the init is (nsenter -w)
    # The socket is close-on-exec: the supervisor sees it close when we have exec'd (from then
    # on this process is dumpable and nsenter may open its /proc/PID/ns).
    for tiny in TINY_INITS:  # a small C init keeps an idle machine at about 50 KiB
        if os.access(tiny[0], os.X_OK):
            try:
                os.execv(tiny[0], tiny)
            except OSError:
                pass
    ns.dumpable()
    sock.close()
    _reap_forever()


def _fail(sock: socket.socket, e: Exception) -> None:
    try:
        wire.send(sock, {"error": f"{type(e).__name__}: {e}"})
    finally:
        os._exit(1)


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
