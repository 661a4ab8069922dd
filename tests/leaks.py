"""What a user's labs leave on the host: processes, mounts, state files, descriptors, memory.

One snapshot function for the leak test (tests/security/test_cycles.py) and the long run in
bench/cycles.py: a lab started and stopped any number of times must leave none of these
growing.
"""
from __future__ import annotations

import os
from pathlib import Path


_OUR_USERNS = os.readlink("/proc/self/ns/user")


def _of_labs(pid: str) -> bool:
    """A lab's process: a supervisor, or anything in a user namespace (machines, helpers)."""
    try:
        if os.readlink(f"/proc/{pid}/ns/user") != _OUR_USERNS:
            return True
        return b"nk_jupyter.engine.supervisor" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _mine(pid: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def our_processes() -> list[str]:
    """Command lines of this user's lab processes (for messages)."""
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit() and _mine(p) and _of_labs(p):
            try:
                argv = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                out.append(f"{p} {argv[:80]}")
            except OSError:
                pass
    return out


def snapshot() -> dict:
    """Counts of this user's lab processes, of all mounts, of entries in the state roots, of our own
    open descriptors, and this user's memory in tmpfs state (KiB)."""
    from nk_jupyter.engine.statedir import all_roots
    procs = [p for p in os.listdir("/proc") if p.isdigit() and _mine(p) and _of_labs(p)]
    entries = 0
    kib = 0
    for root in all_roots():
        for dirpath, dirs, files in os.walk(root):
            entries += len(dirs) + len(files)
            for f in files:
                try:
                    kib += os.lstat(os.path.join(dirpath, f)).st_blocks // 2
                except OSError:
                    pass
    return {"processes": len(procs), "mounts": len(Path("/proc/self/mountinfo").read_text().splitlines()),
            "state_entries": entries, "state_kib": kib, "our_fds": len(os.listdir("/proc/self/fd"))}


def settled(timeout: float = 15.0) -> dict:
    """snapshot() once it stops changing and no lab process is left (a crashed lab's processes
    may still be exiting, for seconds on a loaded host: their namespaces' teardown), or after
    timeout seconds, whatever is there then."""
    import time
    end = time.monotonic() + timeout
    last = snapshot()
    while time.monotonic() < end:
        time.sleep(0.3)
        now = snapshot()
        if now == last and not now["processes"]:
            return now
        last = now
    return last
