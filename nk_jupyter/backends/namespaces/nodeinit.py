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

Its life, talking to the supervisor over one socket (messages.py):
  1. close every inherited fd it does not need; join the machine's cgroup; have a helper
     (nk-userns) make Um with the machine's net/uts/ipc/cgroup namespaces; join those; set
     the hostname and the default sysctls (no interface exists yet)      -> Stage("ns")
     + its netns, and open fds of the sysctls that take RTNL (TAKE_RTNL)
     (the supervisor writes those, then plugs the veths into this netns)
  2. build the root (linux/mounts.py): the host's programs copy-on-write, or a container
     image's files; pivot_root into it, write Um's id map, move into Um and a locked copy
     of the mount namespace                                              -> Stage("rooted")
     + an O_PATH fd of the machine's /dev/pts (the supervisor opens terminals there)
  3. wait for Orders, then, as machine root: bring lo and ethN up, write the lab's sysctls,
     on first boot hosts and hostname, and copy shared/ and MACHINE/ from /hostlab over /
     (copyover.py)                                                       -> Stage("ready")
  4. exec a small static init (catatonit -P) that only reaps orphans; the socket closes with
     the exec.
Until that exec the process is not dumpable, so nothing in the machine can ptrace it or open
its /proc/PID/fd. Lab files are read only as machine root, inside the machine.
"""
from __future__ import annotations

import gc
import os
import signal
import socket
import time
from ... import wire
from ...linux import mounts, ns, paths
from ...linux.netlink import set_up
from . import copyover, template
from .messages import NodeLayout, Orders, Stage

TINY_INITS = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit")  # static: run on any root
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
# Default sysctls whose write takes the kernel's RTNL lock by trylock, restarting the system call
# while another holds it (the supervisor does, creating veths; so does the kernel, tearing down
# an ended lab's namespaces): the init would spin on its core all that time. It opens them in
# its netns instead, and the supervisor, which holds no lock it waits for, writes them.
TAKE_RTNL = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.disable_ipv6",
             "net.ipv6.conf.all.forwarding")
HIDDEN_PROC = ("keys", "key-users")
VCS_DIRS = (".git", ".hg", ".svn")
DPKG_INFO = "var/lib/dpkg/info"  # dpkg's file lists: the host's, under the machine's own changes


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
    With lay.image, / is the image's files under the machine's own copy-on-write layer.
    """
    r = lay.root
    os.makedirs(r, exist_ok=True)
    if lay.image:
        mounts.overlay(r, [lay.image], f"{lay.disk}/image/upper", f"{lay.disk}/image/work")
        top = tuple((n, "dir") for n in FRESH + ("proc", "sys", "dev", "hostlab", "shared"))
    else:
        ns.bind(r, r)  # a mount point of its own, for pivot_root
        top = lay.host_top
    for name, kind in top:
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
                _run_nk(lay, path)
        elif name == "proc":
            ns.mount("proc", path, "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
            for hidden in HIDDEN_PROC:  # they list the user's keys (machine root has the user's uid)
                if os.path.exists(f"{path}/{hidden}"):
                    ns.mount("/dev/null", f"{path}/{hidden}", None, ns.MS_BIND)
        elif name == "sys":
            ns.mount("sysfs", path, "sysfs", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC | ns.MS_RDONLY)
        elif name == "dev":
            mounts.make_dev(path, DEV_SIZE, shm=f"{lay.scratch}/shm")
    if lay.image and not os.path.isdir(f"{r}/root"):
        _clear(f"{r}/root", "dir")  # commands start in /root, as on every machine
    _mount_lab(lay)
    mounts.pivot(r)


def _run_nk(lay: NodeLayout, run: str) -> None:
    """/run (fresh) with /run/lock and nk's own files: /run/nk/bin (systemctl and service
    shims) and /run/nk/share, read-only and locked."""
    os.makedirs(f"{run}/lock")
    os.chmod(f"{run}/lock", 0o1777)
    for sub in ("bin", "share"):
        os.makedirs(f"{run}/nk/{sub}")
        ns.bind(f"{lay.shims}/{sub}", f"{run}/nk/{sub}", readonly=True)


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
    fd = os.open("/proc/sys/" + key.replace(".", "/"), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _devnull_stdio() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def run(lay: NodeLayout, sock: socket.socket) -> None:
    """Body of the machine's pid 1 (in the lab's user ns, in a new pid and mount ns). Never returns."""
    t0 = time.perf_counter()
    c0 = time.thread_time()
    try:
        ns.close_all_but({sock.fileno(), lay.labfd, lay.usernsfd})  # the zygote's and the supervisor's
        _devnull_stdio()
        tiny = _tiny_init()  # opened here: an image machine's / has none of the host's programs
        for folder in filter(None, lay.cgroup.split(":")):  # before anything forks
            with open(f"{folder}/cgroup.procs", "w") as f:
                f.write("0")
        # a helper (nk's static nk-userns, spawned before any of the root exists) makes Um in U2,
        # as a uid of its own with the machine's NPROC budget, and the machine's
        # net/uts/ipc/cgroup namespaces; the init joins them
        maker = ns.Unsharer(ns.CLONE_NEWUSER | MACHINE_NS, lay.owner_uid, lay.nproc, join=lay.usernsfd)
        ns.setns(maker.pidfd, MACHINE_NS)
        ns.sethostname(lay.name)
        handed: list[tuple[str, str]] = []
        fds = [os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)]
        for key, value in lay.sysctls:  # before any interface exists, so "default" applies to all
            try:
                if key in TAKE_RTNL:
                    fds.append(os.open("/proc/sys/" + key.replace(".", "/"), os.O_WRONLY | os.O_CLOEXEC))
                    handed.append((key, value))
                else:
                    write_sysctl(key, value)
            except FileNotFoundError:  # e.g. a host booted with ipv6.disable=1
                pass
        # the supervisor writes the handed sysctls, then plugs the machine's links into its netns
        _send(sock, Stage("ns", sysctls=handed), fds=fds)
        for fd in fds:
            os.close(fd)
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
    _send(sock, Stage("rooted", root_s=t_root, root_cpu_s=c_root, all_s=time.perf_counter() - t0), fds=[pts])
    os.close(pts)
    try:
        msg, _ = wire.recv(sock)
        orders = wire.decode(Orders, msg, "orders")
    except (EOFError, OSError, wire.ProtocolError):
        os._exit(1)
    _send(sock, Stage("ready", warnings=follow(lay, orders)))
    # The socket is close-on-exec: the supervisor sees it close when we have exec'd (from then
    # on this process is dumpable and nsenter may open its /proc/PID/ns).
    if tiny is not None:  # a small C init keeps an idle machine at about 50 KiB
        try:
            os.execve(tiny, ["catatonit", "-P"], {})
        except OSError:
            pass
    ns.dumpable()
    sock.close()
    _reap_forever()


def follow(lay: NodeLayout, orders: Orders) -> list[str]:
    """Do what the supervisor says once the machine's links exist (as machine root, inside);
    returns warnings."""
    warnings = []
    for ifname in orders.up:
        try:
            set_up(ifname)
        except OSError as e:
            warnings.append(f"cannot bring {ifname} up: {e.strerror}")
    for key, value in orders.sysctls:
        try:
            write_sysctl(key, value)
        except OSError as e:
            warnings.append(f"sysctl {key}={value}: {e.strerror}")
    if orders.sh in ("bash", "dash"):  # Netkit labs' #!/bin/sh may be bash's
        try:
            if os.readlink("/bin/sh") != orders.sh and os.path.exists(f"/bin/{orders.sh}"):
                os.unlink("/bin/sh")
                os.symlink(orders.sh, "/bin/sh")
        except OSError as e:
            warnings.append(f"cannot make /bin/sh {orders.sh}: {e.strerror}")
    if orders.first_boot:
        try:
            with open("/etc/hosts", "w") as f:
                f.write(HOSTS.format(name=lay.name))
            with open("/etc/hostname", "w") as f:
                f.write(lay.name + "\n")
        except OSError as e:
            warnings.append(f"cannot write /etc/hosts or /etc/hostname: {e.strerror}")
    if orders.nameserver:  # an uplink's DNS (a machine folder's own resolv.conf is copied after)
        try:
            if os.path.islink("/etc/resolv.conf"):
                os.unlink("/etc/resolv.conf")
            with open("/etc/resolv.conf", "w") as f:
                f.write(f"nameserver {orders.nameserver}\n")
        except OSError as e:
            warnings.append(f"cannot write /etc/resolv.conf: {e.strerror}")
    for folder in orders.copy:  # shared/, then MACHINE/, over / (Netkit's first boot)
        warnings += copyover.copy_over(folder)
    try:
        os.chdir("/root")  # commands start where the init is (nsenter -w)
    except OSError:
        os.chdir("/")
    return warnings


def _tiny_init() -> int | None:
    for path in TINY_INITS:
        fd = _open_program(path)
        if fd is not None:
            return fd
    return None


def _open_program(path: str) -> int | None:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return None


def _send(sock: socket.socket, stage: Stage, fds: list[int] | None = None) -> None:
    wire.send(sock, wire.encode(stage), fds=fds or ())


def _fail(sock: socket.socket, e: Exception) -> None:
    try:
        _send(sock, Stage(error=f"{type(e).__name__}: {e}"))
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
