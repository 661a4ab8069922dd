"""The machines' user namespace U2, made once per lab (initplan.py has the whole nesting)."""
from __future__ import annotations

import os

from ...linux import ns


def machines_userns(owner: int, nproc: int) -> int:
    """Make the user namespace every machine's own is made in (U2), once per lab; returns its fd.

    Its owner `owner` (a uid of the lab's, used by nothing else) and the NPROC limit in force
    when it is made give the whole lab one process budget: every process of every machine
    counts against it, whatever its uid. Its ID map mirrors the lab's.
    """
    child = ns.Unsharer(ns.CLONE_NEWUSER, owner, nproc)
    try:
        ns.mirror_idmaps(child.pid)
        return os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        child.release()
