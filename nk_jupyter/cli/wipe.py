"""`nk wipe`: find and remove everything of this user's labs, orphans included."""
from __future__ import annotations

import os
import signal
import sys
import time

from ..engine.launch import remove_trees
from ..engine.statedir import all_roots, state_root
from ..linux.cgroups import remove_lab_cgroups


def our_processes(under: str | None = None) -> list[int]:
    """Pids of this user's nk supervisors (found by their module name in the command line).

    With under, only supervisors whose state folder is that folder (or inside it).
    """
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"nk_jupyter.engine.supervisor" in argv:
            i = argv.index(b"nk_jupyter.engine.supervisor")
            state = argv[i + 1].decode(errors="replace") if len(argv) > i + 1 else ""
            if under is None or state == under or state.startswith(under.rstrip("/") + "/"):
                out.append(int(entry))
    return out


def wipe(args) -> int:
    pids = our_processes()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while our_processes() and time.monotonic() < deadline:
        time.sleep(0.02)
    remove_lab_cgroups()
    roots = all_roots() or [state_root()]
    entries = [p for root in roots for p in root.iterdir()]
    remove_trees(entries)
    for root in roots:
        try:
            root.rmdir()
        except OSError:
            pass
    print(f"nk wipe: stopped {len(pids)} supervisor process(es), removed {len(entries)} item(s) from "
          f"{', '.join(map(str, roots))}", file=sys.stderr)
    return 0


COMMANDS = {"wipe": (lambda p: None, wipe, "stop and remove everything of this user's labs, orphans included")}
