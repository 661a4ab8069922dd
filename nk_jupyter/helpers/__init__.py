"""nk's own small static programs (C, built when nk is installed: setup.py).

nk-enter.c: how every command enters a machine (backends/namespaces/node.py).
nk-reap.c: a machine's pid 1 once its init has built it (init.h execs it).
nk-spawn.c: the supervisor's spawner of commands (linux/spawn.py, Spawner) and of machine inits (init.h:
    each machine's first process, carrying out initplan.py's plan; backends/namespaces/zygote.py).
enter.h, init.h, common.h: code nk-spawn and nk-enter share.
nk-userns.c: a user namespace made as a uid of the lab's (linux/ns.py, Unsharer).
"""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ("nk-enter", "nk-reap", "nk-spawn", "nk-userns")  # (setup.py builds each from its .c)


def path(name: str) -> str:
    """Where the built program `name` is; a HostSetupError naming the fix when it is not there."""
    full = os.path.join(HERE, name)
    if not os.access(full, os.X_OK):
        from ..errors import HostSetupError
        raise HostSetupError(f"nk's helper program {full} is missing: reinstall nk-jupyter with a C compiler "
                             "and static C library present (Debian: apt install gcc libc6-dev)")
    return full
