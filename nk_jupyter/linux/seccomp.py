"""A seccomp filter for everything the supervisor starts in machines, and a fresh session keyring.

The lab runs as the user (machine root's kernel uid is the user's), so two things the kernel
grants by uid alone must be taken away from machines:
  - the user's keys: the kernel keyring syscalls (keyctl, add_key, request_key) fail with
    EPERM, as in Docker's default profile; the supervisor also joins a new anonymous session
    keyring, so nothing it starts possesses the user's session keys;
  - setuid and setgid files: a machine writes /hostlab as the user, and a setuid file there
    would run as the user for anyone who can reach it. Setting S_ISUID/S_ISGID by chmod,
    fchmod(at|at2), or creating a file or folder with them (open, openat with O_CREAT or
    O_TMPFILE, creat, mkdir(at), mknod(at)) fails with EPERM; openat2 and io_uring (whose
    openat and mkdirat the filter cannot see) fail with ENOSYS (callers fall back to openat
    and plain system calls).
Other ABIs (i386, x32 on x86_64) are refused with ENOSYS, so they cannot go around it.
Installed by the supervisor on itself before it starts nk-spawn (its spawner of commands, and the
one that starts machine inits): every machine's init and the nk-reap it becomes (machine root
may ptrace its pid 1), every nk-enter, command and daemon in a machine inherits it. Root of the
lab's user namespace may install it without no_new_privs.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from . import ns

# struct seccomp_data: nr (0), arch (4), instruction_pointer (8), args[6] (16 + 8*i, low word first)
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SUID_BITS = 0o6000
O_CREAT = 0o100
O_TMPFILE_BIT = 0o20000000  # __O_TMPFILE (x86_64, aarch64): it creates a file with the mode too

# (audit arch, {syscall: number}) per machine; -1: not on this architecture
ARCHES = {
    "x86_64": (0xC000003E, {"keyctl": 250, "add_key": 248, "request_key": 249, "chmod": 90, "fchmod": 91,
                            "fchmodat": 268, "fchmodat2": 452, "open": 2, "openat": 257, "creat": 85,
                            "mkdir": 83, "mkdirat": 258, "mknod": 133, "mknodat": 259, "openat2": 437,
                            "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427}),
    "aarch64": (0xC00000B7, {"keyctl": 219, "add_key": 217, "request_key": 218, "chmod": -1, "fchmod": 52,
                             "fchmodat": 53, "fchmodat2": 452, "open": -1, "openat": 56, "creat": -1,
                             "mkdir": -1, "mkdirat": 34, "mknod": -1, "mknodat": 33, "openat2": 437,
                             "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427}),
}
# which argument holds the mode, and (for open-like calls) which holds the flags
MODE_ARG = {"chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "mkdir": 1, "mkdirat": 2, "mknod": 1,
            "mknodat": 2}
CREATE_ARGS = {"open": (1, 2), "openat": (2, 3), "creat": (None, 1)}  # (flags arg, mode arg)


def _stmt(code: int, k: int) -> bytes:
    return struct.pack("HBBI", code, 0, 0, k)


def _jump(code: int, k: int, jt: int, jf: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _program(arch: int, nrs: dict[str, int]) -> list[bytes]:
    deny, nosys = SECCOMP_RET_ERRNO | errno.EPERM, SECCOMP_RET_ERRNO | errno.ENOSYS
    # another ABI (i386 code on x86_64) has other syscall numbers: refused, not let through
    out = [_stmt(_LD_W_ABS, 4), _jump(_JEQ_K, arch, 1, 0), _stmt(_RET_K, nosys), _stmt(_LD_W_ABS, 0),
           _jump(_JGE_K, X32_SYSCALL_BIT, 0, 1), _stmt(_RET_K, nosys)]  # nor x32 numbers
    for name in ("keyctl", "add_key", "request_key"):
        if nrs[name] >= 0:
            out += [_jump(_JEQ_K, nrs[name], 0, 1), _stmt(_RET_K, deny)]
    for name in ("openat2", "io_uring_setup", "io_uring_enter", "io_uring_register"):
        if nrs[name] >= 0:  # their modes are out of the filter's sight (io_uring's openat, mkdirat)
            out += [_jump(_JEQ_K, nrs[name], 0, 1), _stmt(_RET_K, nosys)]
    for name, arg in MODE_ARG.items():
        if nrs[name] >= 0:  # nr == N and (mode & 06000) -> deny; reload nr after
            out += [_jump(_JEQ_K, nrs[name], 0, 4), _stmt(_LD_W_ABS, 16 + 8 * arg),
                    _jump(_JSET_K, SUID_BITS, 0, 1), _stmt(_RET_K, deny), _stmt(_LD_W_ABS, 0)]
    for name, (flags, mode) in CREATE_ARGS.items():
        if nrs[name] < 0:
            continue
        if flags is None:  # creat: always creates
            out += [_jump(_JEQ_K, nrs[name], 0, 4), _stmt(_LD_W_ABS, 16 + 8 * mode),
                    _jump(_JSET_K, SUID_BITS, 0, 1), _stmt(_RET_K, deny), _stmt(_LD_W_ABS, 0)]
        else:  # nr == N and (flags & (O_CREAT | O_TMPFILE)) and (mode & 06000) -> deny
            out += [_jump(_JEQ_K, nrs[name], 0, 6), _stmt(_LD_W_ABS, 16 + 8 * flags),
                    _jump(_JSET_K, O_CREAT | O_TMPFILE_BIT, 0, 3), _stmt(_LD_W_ABS, 16 + 8 * mode),
                    _jump(_JSET_K, SUID_BITS, 0, 1), _stmt(_RET_K, deny), _stmt(_LD_W_ABS, 0)]
    out.append(_stmt(_RET_K, SECCOMP_RET_ALLOW))
    return out


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


SUPPORTED = os.uname().machine in ARCHES
INSTALLED = False  # (on this process: what starts machines checks it)


def install() -> bool:
    """Install the filter on this process (and so on all it starts); False where the
    architecture is not known (then only the keyring is fresh)."""
    global INSTALLED
    if not SUPPORTED:
        return False
    arch, nrs = ARCHES[os.uname().machine]
    code = b"".join(_program(arch, nrs))
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    ret = ns._libc.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                         ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
    INSTALLED = True
    return True


def new_session_keyring() -> None:
    """Join a new anonymous session keyring (KEYCTL_JOIN_SESSION_KEYRING with no name)."""
    KEYCTL_JOIN_SESSION_KEYRING = 1
    ret = ns._libc.syscall(ARCHES.get(os.uname().machine, (0, {"keyctl": -1}))[1]["keyctl"],
                           KEYCTL_JOIN_SESSION_KEYRING, None)
    if ret < 0 and ctypes.get_errno() not in (errno.ENOSYS, errno.EPERM):
        err = ctypes.get_errno()
        raise OSError(err, f"keyctl: {os.strerror(err)}")
