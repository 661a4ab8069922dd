"""Opening paths inside a folder we do not trust (a lab folder, a machine's files).

Everything that crosses from a lab folder into our own code goes through openat2(2): the
path is resolved beneath an already open folder, and symlinks, magic links (/proc/PID/fd/N)
and mount crossings are refused by the kernel, so nothing can be swapped for a symlink
between a check and a use (no check-then-use races). Linux 5.6+.
"""
from __future__ import annotations

import ctypes
import errno
import os
import stat

from . import ns

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
STRICT = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
_SYS_OPENAT2 = 437  # one number on every architecture (the new syscall table)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, resolve: int = STRICT, mode: int = 0) -> int:
    """openat2(2); raises OSError (ELOOP for a symlink, EXDEV for a mount, ENOENT ...)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    fd = ns._libc.syscall(_SYS_OPENAT2, ctypes.c_int(dirfd), path.encode(), ctypes.byref(how),
                          ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def open_dir(path: str) -> int:
    """An O_PATH fd of a folder the user named (its own path may hold symlinks: the user chose it)."""
    return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def open_beneath(dirfd: int, rel: str, flags: int = os.O_RDONLY, mode: int = 0) -> int:
    """Open rel strictly beneath dirfd: no symlink anywhere on the way, nothing outside."""
    return openat2(dirfd, rel, flags | os.O_NOFOLLOW, STRICT, mode)


def subdir(dirfd: int, rel: str) -> int | None:
    """An O_PATH fd of the real folder rel beneath dirfd, or None if it is missing, a symlink or
    not a folder."""
    try:
        return openat2(dirfd, rel, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, STRICT)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV):
            return None
        raise


def read_regular(dirfd: int, rel: str, limit: int) -> bytes:
    """The bytes of a regular file beneath dirfd (no FIFO, device or symlink; at most limit bytes,
    else OSError EFBIG)."""
    fd = open_beneath(dirfd, rel, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", rel)
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", rel)
        chunks, left = [], limit + 1
        while left > 0:
            data = os.read(fd, min(left, 1 << 20))
            if not data:
                break
            chunks.append(data)
            left -= len(data)
        out = b"".join(chunks)
        if len(out) > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", rel)
        return out
    finally:
        os.close(fd)


def remove_tree(path: str | os.PathLike, dirfd: int | None = None) -> None:
    """rm -rf, for trees a lab made: GNU rm removes any depth without recursion limits and never
    follows a symlink (shutil.rmtree would hit Python's recursion limit on a 1500-deep tree).
    With dirfd, path is taken beneath that descriptor."""
    if dirfd is not None:
        target, keep = f"/proc/self/fd/{dirfd}/{path}", (dirfd,)
    else:
        target, keep = os.fspath(path), ()
    import subprocess
    subprocess.run(["rm", "-rf", "--one-file-system", "--", target], pass_fds=keep,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
