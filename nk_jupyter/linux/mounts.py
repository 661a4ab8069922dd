"""Mount trees as descriptors: a container image's files travel from podman's namespaces to a lab's.

(A machine's own / is built by nk-init, helpers/init.h, as backends/namespaces/initplan.py plans it.)
"""
from __future__ import annotations

import ctypes
import os

from . import ns

_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 1


class _MountAttr(ctypes.Structure):
    _fields_ = [("set", ctypes.c_uint64), ("clr", ctypes.c_uint64),
                ("prop", ctypes.c_uint64), ("userns", ctypes.c_uint64)]


_READONLY = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (new syscall table)


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
