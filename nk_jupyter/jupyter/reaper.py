"""`nk_jupyter.jupyter.reaper KERNEL_PID` (selfrun.argv runs main()): halt a kernel's labs once it is gone.

Started (in its own session, so kernel interrupts and ipykernel's shutdown of its
process group do not reach it) the first time a kernel starts a lab. It waits for the
kernel process to end, however it ends (shutdown, restart, SIGKILL), then halts every
running lab whose lab.json names that pid as owner, and exits. A kernel that shuts
down cleanly has already halted its labs itself (session.Session.shutdown); then the
reaper finds nothing to do.
"""
from __future__ import annotations

import os
import select
import sys
import time


def wait_for_exit(pid: int) -> None:
    """Block until process pid has ended."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd: poll
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    pid = int(argv[0])
    wait_for_exit(pid)
    from ..api import running_labs
    from .session import halt_lab
    for running in running_labs():
        if running.owner.pid == pid:
            halt_lab(running)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
