"""What every check family shares: the result record and the probe that runs commands.

A check family is a module with functions `name(probe, device, ...) -> CheckResult`
(or a list of them). Checks never raise for a wrong lab: a missing device, a command
that fails or times out, output that does not parse, all become a failed result whose
reason says what was seen.
"""
from __future__ import annotations

import json
from ...records import dataclass

from ...api import ExecResult, Lab
from ..execs import run_limited

COMMAND_TIMEOUT = 20.0


@dataclass
class CheckResult:
    """One graded fact: which family, on which device, what was expected, and the verdict."""
    family: str
    device: str
    description: str
    passed: bool
    reason: str = "OK"

    def as_dict(self) -> dict:
        return {"family": self.family, "device": self.device, "description": self.description,
                "passed": self.passed, "reason": self.reason}

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        return f"[{mark}] {self.description}" + ("" if self.passed else f": {self.reason}")


class CommandFailed(Exception):
    """A probe command could not give an answer; the message is the reason to report."""


class Probe:
    """Runs commands in a lab's machines for the checks, with a time limit each."""

    def __init__(self, lab: Lab, timeout: float = COMMAND_TIMEOUT) -> None:
        self.lab = lab
        self.timeout = timeout

    def has(self, device: str) -> bool:
        return device in self.lab.model.machines

    def run(self, device: str, command: str, timeout: float | None = None) -> ExecResult:
        """The command's result; CommandFailed if the device is absent or the command timed out."""
        if not self.has(device):
            raise CommandFailed(f"device {device} is not in the lab")
        outcome = run_limited(self.lab, device, command, timeout or self.timeout)
        if outcome.error:
            raise CommandFailed(f"{device}: {outcome.error}")
        if outcome.timed_out:
            raise CommandFailed(f"{device}: `{command}` did not answer within {timeout or self.timeout:g} s")
        return outcome.result

    def json(self, device: str, command: str):
        """The command's stdout as JSON; CommandFailed (with its error output) otherwise."""
        r = self.run(device, command)
        text = r.stdout.strip()
        if r.status != 0 or not text:
            detail = (r.stderr or r.stdout).strip().splitlines()
            raise CommandFailed(f"`{command}` on {device} failed (status {r.status})"
                                + (f": {detail[-1]}" if detail else ""))
        try:
            return json.loads(text)
        except ValueError:
            raise CommandFailed(f"`{command}` on {device} did not print JSON: {text[:120]!r}") from None

    def vtysh(self, device: str, command: str):
        """A `vtysh -c '... json'` answer; CommandFailed if the daemon is not running."""
        return self.json(device, f"vtysh -c '{command}'")


def guarded(family: str, device: str, description: str, probe_fn) -> CheckResult:
    """Run probe_fn() -> (passed, reason); a CommandFailed becomes a failed result."""
    try:
        passed, reason = probe_fn()
    except CommandFailed as e:
        return CheckResult(family, device, description, False, str(e))
    return CheckResult(family, device, description, passed, reason)


def negated(item: str) -> tuple[str, bool]:
    """kathara-lab-checker's `!value`: (value, True) when negated."""
    item = str(item).strip()
    return (item[1:].strip(), True) if item.startswith("!") else (item, False)


def plan_per_item(node, check) -> list:
    """Steps for a `{device: [value or !value, ...]}` block: check(probe, device, value, wanted)."""
    steps = []
    for device, items in node.items():
        for item in items.elements():
            value, neg = negated(item.text())
            steps.append(lambda p, d=device, v=value, neg=neg: [check(p, d, v, not neg)])
    return steps
