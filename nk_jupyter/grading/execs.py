"""Running a command in a lab machine with a time limit (shared by ltest and the checker).

A grader needs bounds a lab cannot lift: Lab.run(timeout=, limit=) sends TERM then KILL to
the command's process group past the time limit, and kills it past the output limit.
"""
from __future__ import annotations

from ..records import dataclass

from ..api import ExecResult, Lab
from ..errors import NkError

OUTPUT_LIMIT = 16 << 20  # bytes a grader keeps of one command's output


@dataclass
class Outcome:
    """What became of one command: its result, whether it timed out, or why it could not run."""
    result: ExecResult
    timed_out: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.timed_out and not self.error and self.result.status == 0


def run_limited(lab: Lab, machine: str, command: str, timeout: float | None, limit: int = OUTPUT_LIMIT) -> Outcome:
    """Run command in machine; stop it after timeout seconds (None: no limit) or limit bytes."""
    try:
        result = lab.run(machine, command, timeout=timeout, limit=limit)
    except NkError as e:  # the machine is not running, or the supervisor went away
        return Outcome(ExecResult(machine, command, -1, "", ""), error=str(e))
    error = f"its output passed {limit} bytes: stopped" if result.truncated else ""
    return Outcome(result, timed_out=result.timed_out, error=error)
