"""Building a node's root filesystem out of mounts (run inside the node's mount namespace).

The layout of a machine's / is decided in backends/namespaces/nodeinit.py; these are the
mount primitives it uses.
"""
from __future__ import annotations

import ctypes
import os

from . import ns

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 1


class _MountAttr(ctypes.Structure):
    _fields_ = [("set", ctypes.c_uint64), ("clr", ctypes.c_uint64),
                ("prop", ctypes.c_uint64), ("userns", ctypes.c_uint64)]


_READONLY = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new syscall table)


def _readonly_recursive(path: str) -> None:
    AT_FDCWD = -100
    ret = ns._libc.syscall(_SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), _AT_RECURSIVE, ctypes.byref(_READONLY),
                           ctypes.sizeof(_READONLY))
    if ret < 0:
        ns.mount(None, path, None, ns.MS_BIND | ns.MS_REMOUNT | ns.MS_RDONLY)


_SYS_OPEN_TREE, _SYS_MOVE_MOUNT = 428, 429
_OPEN_TREE_CLONE, _AT_EMPTY_PATH, _MOVE_MOUNT_F_EMPTY_PATH = 1, 0x1000, 4


def detached_copy(path: str) -> int:
    """A read-only, detached copy of the mount tree at path (open_tree(OPEN_TREE_CLONE)), as a
    descriptor: it outlives the mount namespace it came from and can be sent to another
    process, which attaches it with attach()."""
    fd = ns._libc.syscall(_SYS_OPEN_TREE, -100, path.encode(), _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC)
    ns._check(fd, f"open_tree {path}")
    ret = ns._libc.syscall(_SYS_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH | _AT_RECURSIVE, ctypes.byref(_READONLY),
                           ctypes.sizeof(_READONLY))
    if ret < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}")
    return fd


def attach(fd: int, target: str) -> None:
    """Attach a detached mount tree (detached_copy) on target."""
    ns._check(ns._libc.syscall(_SYS_MOVE_MOUNT, fd, b"", -100, target.encode(), _MOVE_MOUNT_F_EMPTY_PATH),
              f"move_mount {target}")


def bind_readonly(src: str, dst: str) -> None:
    ns.mount(src, dst, None, ns.MS_BIND | ns.MS_REC)
    _readonly_recursive(dst)


def overlay(dst: str, lowers: list[str], upper: str, work: str) -> None:
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work},userxattr"
    ns.mount("overlay", dst, "overlay", 0, opts)


def tmpfs(dst: str, mode: str = "755", size: str | None = None) -> None:
    data = f"mode={mode}" + (f",size={size}" if size else "")
    ns.mount("tmpfs", dst, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, data)


def make_dev(dev: str, size: str, shm: str) -> None:
    """A small /dev: the host's harmless devices, a private devpts, /dev/shm bound from shm."""
    tmpfs(dev, "755", size)
    for name in DEVICES:
        target = f"{dev}/{name}"
        open(target, "w").close()
        ns.mount(f"/dev/{name}", target, None, ns.MS_BIND)
    if os.path.exists("/dev/net/tun"):
        os.mkdir(f"{dev}/net")
        open(f"{dev}/net/tun", "w").close()
        ns.mount("/dev/net/tun", f"{dev}/net/tun", None, ns.MS_BIND)
    for name in ("pts", "shm", "mqueue"):
        os.mkdir(f"{dev}/{name}")
    ns.mount("devpts", f"{dev}/pts", "devpts", ns.MS_NOSUID | ns.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.makedirs(shm)
    os.chmod(shm, 0o1777)
    ns.bind(shm, f"{dev}/shm")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")


def pivot(root: str) -> None:
    """Make root the new / and drop every view of the host."""
    old = f"{root}/.nk-oldroot"
    if os.path.lexists(old):  # left by a machine that was killed while it booted
        os.rmdir(old) if os.path.isdir(old) and not os.path.islink(old) else os.unlink(old)
    os.mkdir(old)
    ns.pivot_root(root, old)
    os.chdir("/")
    ns.umount("/.nk-oldroot", ns.MNT_DETACH)
    os.rmdir("/.nk-oldroot")
