"""Custom commands, as kathara-lab-checker's
`custom_commands: {device: [{command, exit_code, output, regex_match}]}`.

output is compared exactly with the trimmed stdout (stderr when stdout is empty);
regex_match is searched in it; exit_code is the command's status.
"""
from __future__ import annotations

import re

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "custom_commands"


def command(probe: Probe, device: str, cmd: str, exit_code: int | None = None, output: str | None = None,
            regex: str | None = None, timeout: float | None = None) -> list[CheckResult]:
    """One result per expectation given (exit code, exact output, regex)."""
    results: list[CheckResult] = []
    cache: dict = {}

    def run():
        if "r" not in cache:
            cache["r"] = probe.run(device, cmd, timeout=timeout)
        r = cache["r"]
        text = (r.stdout.strip() or r.stderr.strip()).replace("\r\n", "\n").replace("\r", "\n")
        return r, text

    if exit_code is not None:
        def f_exit():
            r, _ = run()
            return r.status == exit_code, "OK" if r.status == exit_code else f"exit status {r.status}, expected {exit_code}"
        results.append(guarded(FAMILY, device, f"`{cmd}` on {device} exits with {exit_code}", f_exit))
    if output is not None:
        def f_out():
            _, text = run()
            want = output.replace("\r\n", "\n").strip()
            return text == want, "OK" if text == want else f"output {text[:200]!r}, expected {want[:200]!r}"
        results.append(guarded(FAMILY, device, f"`{cmd}` on {device} prints the expected output", f_out))
    if regex is not None:
        def f_rx():
            _, text = run()
            ok = re.search(regex, text) is not None
            return ok, "OK" if ok else f"output {text[:200]!r} does not match /{regex}/"
        results.append(guarded(FAMILY, device, f"`{cmd}` on {device} output matches /{regex}/", f_rx))
    return results


def plan(node: Node) -> list:
    steps = []
    for device, items in node.items():
        for e in items.elements():
            c = e.get("command")
            if c is None:
                raise e.error("a custom command needs command")
            code = int(e.get("exit_code").number()) if e.get("exit_code") is not None else None
            out = e.get("output").text() if e.get("output") is not None else None
            rx = e.get("regex_match").text() if e.get("regex_match") is not None else None
            if code is None and out is None and rx is None:
                raise e.error("say what to expect: exit_code, output or regex_match")
            if rx is not None:
                try:
                    re.compile(rx)
                except re.error as err:
                    raise e.error(f"regex_match {rx!r} is not a valid regular expression: {err}") from None
            steps.append(lambda p, d=device, c=c.text(), x=code, o=out, r=rx: command(p, d, c, x, o, r))
    return steps
