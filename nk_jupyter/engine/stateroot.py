"""Where a lab's state is, as plain strings: the one rule for the state root and a lab's id,
the liveness check and lab.json (statedir.py builds its StateDir on them).

Light on purpose (no pathlib, hashlib, dataclasses, re, json): `nk vcmd`'s fast door (nk_jupyter/quick.py)
finds a running lab through here in well under a millisecond of imports.
"""
from __future__ import annotations

import fcntl
import os
import stat

from .. import cjson

try:  # CPython's own SHA-1 (what hashlib falls back to): no OpenSSL start-up
    from _sha1 import sha1
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import sha1

LOCK, PID, SOCK, LABJSON, LOG = "lock", "supervisor.pid", "api.sock", "lab.json", "supervisor.log"
_SLUG = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")  # (no `re`: ~5 ms)


def user_xattrs(folder: str) -> bool:
    """Can overlayfs keep its user.* xattrs here? (tmpfs only since Linux 6.6)"""
    try:
        os.setxattr(folder, "user.nk-probe", b"1")
        os.removexattr(folder, "user.nk-probe")
        return True
    except OSError:
        return False


def shm_usable() -> bool:
    """/dev/shm is a writable tmpfs that keeps user xattrs (probed in a folder of our own)."""
    import tempfile
    if not os.access("/dev/shm", os.W_OK):
        return False
    try:
        probe = tempfile.mkdtemp(prefix="nk-probe-", dir="/dev/shm")
    except OSError:
        return False
    try:
        return user_xattrs(probe)
    finally:
        os.rmdir(probe)


def root() -> str:
    """This user's state root by the rule: $XDG_RUNTIME_DIR/nk when that is set and ours, else
    /dev/shm/nk-<uid>, else /tmp/nk-<uid> (not created here: statedir.state_root() does)."""
    uid = os.getuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if (xdg and os.path.isdir(xdg) and os.stat(xdg).st_uid == uid and os.access(xdg, os.W_OK)
            and user_xattrs(xdg)):
        return os.path.join(xdg, "nk")
    if os.path.isdir(f"/dev/shm/nk-{uid}") or shm_usable():
        return f"/dev/shm/nk-{uid}"
    return f"/tmp/nk-{uid}"


def private(root: str) -> bool:
    """root is a real folder of ours that nobody else may enter (0700): what state_root() makes
    (a root another user made, with a socket of theirs in it, is never spoken to)."""
    try:
        st = os.lstat(root)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def lab_id(resolved: str) -> str:
    """A short, stable id for a lab folder (its absolute, resolved path): its name plus a hash."""
    slug = "".join(c if c in _SLUG else "_" for c in os.path.basename(resolved))[:24] or "lab"
    return f"{slug}-{sha1(resolved.encode()).hexdigest()[:8]}"


def is_live(state: str) -> bool:
    """True while a supervisor holds the lock of the state folder `state`."""
    try:
        fd = os.open(os.path.join(state, LOCK), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def read_json(state: str) -> dict:
    try:
        with open(os.path.join(state, LABJSON), "rb") as f:
            data = cjson.loads(f.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
