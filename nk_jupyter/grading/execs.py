"""Running a command in a lab machine with a time limit (shared by ltest and the checker).

lab.run() waits for as long as the command runs; graders need a bound. The command runs
in a thread; past the limit it is sent TERM, then KILL (to its process group, through
the engine's ExecStream.signal), and the caller is told it timed out.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from ..api import ExecResult, Lab
from ..errors import NkError

GRACE = 2.0  # seconds between TERM and KILL, and after KILL before giving up on the stream


@dataclass
class Outcome:
    """What became of one command: its result, whether it timed out, or why it could not run."""
    result: ExecResult
    timed_out: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.error and self.result.status == 0


def run_limited(lab: Lab, machine: str, command: str, timeout: float | None) -> Outcome:
    """Run command in machine; stop it after timeout seconds (None: no limit)."""
    try:
        stream = lab.exec(machine, command)
    except NkError as e:
        return Outcome(ExecResult(machine, command, -1, "", ""), error=str(e))
    out: list[str] = []
    err: list[str] = []
    failure: list[str] = []

    def pump() -> None:
        try:
            for kind, text in stream:
                (out if kind == "stdout" else err).append(text)
        except NkError as e:  # the supervisor went away (lab crashed meanwhile)
            failure.append(str(e))

    worker = threading.Thread(target=pump, name=f"nk-exec-{machine}", daemon=True)
    worker.start()
    worker.join(timeout)
    timed_out = worker.is_alive()
    if timed_out:
        stream.signal("TERM")
        worker.join(GRACE)
        if worker.is_alive():
            stream.signal("KILL")
            worker.join(GRACE)
    status = stream.status if stream.status is not None else -1
    result = ExecResult(machine, command, status, "".join(out), "".join(err))
    return Outcome(result, timed_out=timed_out, error=failure[0] if failure else "")
