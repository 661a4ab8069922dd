"""What each namespace machine's init (nk's C code, helpers/init.h, in a clone of nk-spawn) does, as a plan.

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

The zygote (an nk-spawn) runs the init's C code (helpers/init.h) in each clone with
plan(layout) as its argv: every decision is made here, in Python; the C code carries the ops out
in order (its header lists its stages on the socket, and the orders it reads afterwards:
order_words()). It is part of a small static program so that a lab of a thousand machines pays
neither a thousand forked Pythons (their copied pages, their teardown at exec) nor a thousand
program starts: bench/README.md has the figures.
"""
from __future__ import annotations

import os
import struct

from ...linux import ns
from . import template
from .messages import NodeLayout, Orders

MACHINE_NS = ns.CLONE_NEWNET | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC | ns.CLONE_NEWCGROUP

# What a machine sees of the host's top level, by kind (anything else of the host: nothing).
# Every part of its root is its own and copy-on-write (Netkit's and Kathara's machines are).
PROGRAMS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")  # over the template's skeleton
COPY_ON_WRITE = ("etc", "var", "opt")  # etc, var: of the template's copies; opt: of the host's
OWN = ("root", "home", "srv")          # the machine's own folders, kept by lhalt
FRESH = ("tmp", "run")                  # empty at every boot, on the lab's capped scratch space
EMPTY = ("mnt", "media", "hostlab", "shared")
DEV_SIZE = "1m"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
HIDDEN_PROC = ("keys", "key-users")    # they list the user's keys (machine root has the user's uid)
DPKG_INFO = "var/lib/dpkg/info"  # dpkg's file lists: the host's, under the machine's own changes
# Default sysctls whose write takes the kernel's RTNL lock by trylock, restarting the system call
# while another holds it (the supervisor does, creating veths; so does the kernel, tearing down
# an ended lab's namespaces): the init would spin on its core all that time. It opens them in
# its netns instead, and the supervisor, which holds no lock it waits for, writes them.
TAKE_RTNL = ("net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv6.conf.all.disable_ipv6",
             "net.ipv6.conf.all.forwarding")
# Where the zygote puts the init's descriptors (init.h: INIT_SOCK, LABFD, USERNSFD, REAPFD; nk-spawn.c "z")
SOCK_FD, LAB_FD, USERNS_FD, REAP_FD = 3, 4, 5, 6
_NOSUID_NODEV_NOEXEC = ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC
PROC_ATTRS = 0x2 | 0x4 | 0x8  # fsmount's MOUNT_ATTR_NOSUID | _NODEV | _NOEXEC (linux/mount.h)


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


def plan(lay: NodeLayout) -> list[str]:
    """The ops nk-init carries out for this machine, up to its "rooted" stage (it then execs
    nk-reap from its descriptor 6: zygote.py)."""
    ops = ["name", lay.name]
    for folder in filter(None, lay.cgroup.split(":")):  # before anything forks
        ops += ["cgroup", folder]
    ops += ["userns", str(lay.owner_uid), str(lay.nproc)]
    ops += ["proc", str(PROC_ATTRS)]  # its /proc, not yet attached: sysctls are opened through it
    for key, value in lay.sysctls:  # before any interface exists, so "default" applies to all
        ops += ["handsysctl" if key in TAKE_RTNL else "sysctl", key, str(value)]
    ops.append("sendns")  # the supervisor writes the handed sysctls and plugs the links now
    ops += _root(lay)
    ops.append("rooted")
    return ops


def _root(lay: NodeLayout) -> list[str]:
    """Mount the machine's / on lay.root, then pivot into it.

    lay.root is kept with the machine's disk: what it makes at the top level (/scripts, /data)
    stays for its next boot; the names nk mounts on are made real, empty folders again first.
    With lay.image, / is the image's files under the machine's own copy-on-write layer.
    """
    r = lay.root
    ops = ["mkdirs", r, "777"]
    if lay.image:
        ops += _overlay(r, [lay.image], f"{lay.disk}/image/upper", f"{lay.disk}/image/work")
        top = tuple((n, "dir") for n in FRESH + ("proc", "sys", "dev", "hostlab", "shared"))
    else:
        ops += ["bind", r, r]  # a mount point of its own, for pivot_root
        top = lay.host_top
    for name, kind in top:
        path = f"{r}/{name}"
        if kind.startswith("link:"):
            ops += ["clear", path, "link", "symlink", kind[5:], path]
            continue
        ops += ["clear", path, "dir"]
        if name in PROGRAMS:
            ops += _overlay(path, [f"{lay.template}/{name}", f"/{name}"], f"{lay.disk}/{name}/upper",
                            f"{lay.disk}/{name}/work")
        elif name in COPY_ON_WRITE:
            lowers = [f"{lay.template}/{name}"] if name in template.COPIED_DIRS else [f"/{name}"]
            ops += _overlay(path, lowers, f"{lay.disk}/{name}/upper", f"{lay.disk}/{name}/work")
            if name == "var" and os.path.isdir(f"{lay.template}/{DPKG_INFO}") and os.path.isdir(f"/{DPKG_INFO}"):
                ops += _overlay(f"{r}/{DPKG_INFO}", [f"{lay.template}/{DPKG_INFO}", f"/{DPKG_INFO}"],
                                f"{lay.disk}/dpkg-info/upper", f"{lay.disk}/dpkg-info/work")
        elif name in OWN:
            ops += ["mkdirs", f"{lay.disk}/{name}", "700" if name == "root" else "755", "bind", f"{lay.disk}/{name}", path]
        elif name in FRESH:
            fresh = f"{lay.scratch}/{name}"
            ops += ["newdir", fresh, "1777" if name == "tmp" else "755", "bind", fresh, path]
            if name == "run":
                ops += _run_nk(lay, path)
        elif name == "proc":
            ops += ["procmount", path]
            for hidden in HIDDEN_PROC:
                ops += ["bindif", "/dev/null", f"{path}/{hidden}"]
        elif name == "sys":
            ops += ["mount", "sysfs", path, "sysfs", str(_NOSUID_NODEV_NOEXEC | ns.MS_RDONLY), "-"]
        elif name == "dev":
            ops += _dev(path, lay.scratch)
    if lay.image:
        ops += ["rootdir", f"{r}/root"]  # commands start in /root, as on every machine
    ops += ["lab", lay.labdir, r, "pivot", r]
    return ops


def _overlay(dst: str, lowers: list[str], upper: str, work: str) -> list[str]:
    opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},userxattr"
    return ["mkdirs", upper, "777", "mkdirs", work, "777", "mount", "overlay", dst, "overlay", "0", opts]


def _run_nk(lay: NodeLayout, run: str) -> list[str]:
    """/run/lock and nk's own files: /run/nk/bin (systemctl and service shims) and /run/nk/share,
    read-only and locked."""
    ops = ["newdir", f"{run}/lock", "1777"]
    for sub in ("bin", "share"):
        ops += ["mkdirs", f"{run}/nk/{sub}", "755", "bindro", f"{lay.shims}/{sub}", f"{run}/nk/{sub}"]
    return ops


def _dev(dev: str, scratch: str) -> list[str]:
    """A small /dev: the host's harmless devices, a private devpts, /dev/shm on the scratch space."""
    ops = ["mount", "tmpfs", dev, "tmpfs", str(ns.MS_NOSUID | ns.MS_NODEV), f"mode=755,size={DEV_SIZE}"]
    for name in DEVICES:
        ops += ["touch", f"{dev}/{name}", "bind", f"/dev/{name}", f"{dev}/{name}"]
    if os.path.exists("/dev/net/tun"):
        ops += ["newdir", f"{dev}/net", "755", "touch", f"{dev}/net/tun", "bind", "/dev/net/tun", f"{dev}/net/tun"]
    for name in ("pts", "shm", "mqueue"):
        ops += ["newdir", f"{dev}/{name}", "755"]
    ops += ["mount", "devpts", f"{dev}/pts", "devpts", str(ns.MS_NOSUID | ns.MS_NOEXEC),
            "newinstance,ptmxmode=0666,mode=620", "symlink", "pts/ptmx", f"{dev}/ptmx"]
    ops += ["newdir", f"{scratch}/shm", "1777", "bind", f"{scratch}/shm", f"{dev}/shm"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        ops += ["symlink", target, f"{dev}/{name}"]
    return ops


def order_words(orders: Orders) -> bytes:
    """The orders as nk-init reads them: a frame (wire's framing) of NUL-terminated words."""
    words = [w for name in orders.up for w in ("up", name)]
    words += [w for key, value in orders.sysctls for w in ("sysctl", key, str(value))]
    if orders.sh in ("bash", "dash"):  # Netkit labs' #!/bin/sh may be bash's
        words += ["sh", orders.sh]
    if orders.first_boot:
        words.append("first")  # /etc/hosts and /etc/hostname
    if orders.nameserver:  # an uplink's DNS (a machine folder's own resolv.conf is copied after)
        words += ["nameserver", orders.nameserver]
    words += [w for folder in orders.copy for w in ("copy", folder)]  # shared/, then MACHINE/, over /
    if any("\0" in w for w in words):  # (one word must stay one word)
        raise ValueError("an order holds a NUL character")
    body = b"".join(w.encode() + b"\0" for w in words)
    return struct.pack("<I", len(body)) + body
