"""lab.dep: Make-style boot dependencies, `target: prereq1 prereq2`.

`#` starts a comment, blank lines are skipped, a trailing backslash continues a rule on the
next line, repeated targets are merged. Unknown machines and cycles are LabConfErrors that
name lab.dep and a line.
"""
from __future__ import annotations

import re
from pathlib import Path

from nk_jupyter.errors import LabConfError
from nk_jupyter.model.lab import find_cycle

_RULE = re.compile(r"(?P<targets>[^:=]+):(?P<prereqs>[^:=]*)")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each rule, continuations joined, comments dropped."""
    rules: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        if not pending:
            start = number
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(raw)
        line = " ".join(pending).split("#", 1)[0].strip()
        pending = []
        if line:
            rules.append((start, line))
    if pending:
        line = " ".join(pending).split("#", 1)[0].strip()
        if line:
            rules.append((start, line))
    return rules


def parse_lab_dep(text: str, path: Path, machines: list[str]) -> dict[str, list[str]]:
    """Target -> prerequisites (merged, in order); every name must be one of `machines`."""
    known = set(machines)
    deps: dict[str, list[str]] = {}
    lines: dict[tuple[str, str], int] = {}
    for number, line in _logical_lines(text):
        m = _RULE.fullmatch(line)
        if not m or not m["targets"].split():
            raise LabConfError(path, number, f"cannot parse: {line} (expected TARGET: PREREQUISITES)")
        targets, prereqs = m["targets"].split(), m["prereqs"].split()
        for name in targets + prereqs:
            if name not in known:
                names = ", ".join(machines) or "(none)"
                raise LabConfError(path, number, f"unknown machine {name!r}; this lab has: {names}")
        for target in targets:
            merged = deps.setdefault(target, [])
            for prereq in prereqs:
                if prereq not in merged:
                    merged.append(prereq)
                    lines.setdefault((target, prereq), number)
    _check_cycles(deps, lines, path)
    return deps


def _check_cycles(deps: dict[str, list[str]], lines: dict[tuple[str, str], int], path: Path) -> None:
    cycle = find_cycle(deps)
    if cycle:
        raise LabConfError(path, lines[(cycle[0], cycle[1])], f"dependency cycle: {' -> '.join(cycle)}")
