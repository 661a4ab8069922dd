"""What a user's labs leave on the host: processes, mounts, state files, descriptors, memory.

One snapshot function for the leak test (tests/security/test_cycles.py) and the long run in
bench/cycles.py: a lab started and stopped any number of times must leave none of these
growing.
"""
from __future__ import annotations

import os
from pathlib import Path


def _mine(pid: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def snapshot() -> dict:
    """Counts of this user's processes, of all mounts, of entries in the state roots, of our own
    open descriptors, and this user's memory in tmpfs state (KiB)."""
    from nk_jupyter.engine.statedir import all_roots
    procs = [p for p in os.listdir("/proc") if p.isdigit() and _mine(p) and int(p) != os.getpid()]
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
