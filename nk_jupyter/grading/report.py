"""Score reports of checks: text and JSON/CSV for the CLI, HTML for notebooks.

A LabResult is one lab's results; its score is the share of checks passed. The text and
HTML forms list checks in the order run, with no timings, so they are stable for nbval.
"""
from __future__ import annotations

import csv
import html
import io
import json
from ..records import dataclass, field
from typing import Iterable

from .checker.base import CheckResult


@dataclass
class LabResult:
    lab: str
    directory: str
    results: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str = ""          # the lab could not be read or started: nothing was checked

    @property
    def passed_count(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def passed(self) -> bool:
        return not self.error and self.passed_count == len(self.results)

    @property
    def score(self) -> float:
        """Percentage of checks passed (0 if the lab could not be graded)."""
        return 0.0 if self.error or not self.results else 100.0 * self.passed_count / len(self.results)

    def as_dict(self) -> dict:
        return {"lab": self.lab, "directory": self.directory, "passed": self.passed, "score": round(self.score, 1),
                "checks": len(self.results), "passed_checks": self.passed_count, "error": self.error,
                "warnings": self.warnings, "results": [r.as_dict() for r in self.results]}

    def text(self) -> str:
        return to_text([self])

    def _repr_html_(self) -> str:
        return to_html([self])

    def __repr__(self) -> str:
        return f"<{self.lab}: {self.passed_count}/{len(self.results)} checks passed>"


def to_text(labs: Iterable[LabResult]) -> str:
    labs = list(labs)
    out = []
    for lab in labs:
        out.append(f"== {lab.lab} ==")
        out += [f"warning: {w}" for w in lab.warnings]
        if lab.error:
            out.append(f"NOT GRADED: {lab.error}")
        out += [str(r) for r in lab.results]
        out.append(f"score: {lab.passed_count}/{len(lab.results)} checks passed ({lab.score:.0f}%)")
        out.append("")
    if len(labs) > 1:
        out.append("summary:")
        width = max(len(lab.lab) for lab in labs)
        out += [f"  {lab.lab:<{width}}  {lab.passed_count:>3}/{len(lab.results):<3} {lab.score:5.1f}%"
                + ("  NOT GRADED" if lab.error else "") for lab in labs]
        out.append("")
    return "\n".join(out)


def to_json(labs: Iterable[LabResult]) -> str:
    return json.dumps([lab.as_dict() for lab in labs], indent=2) + "\n"


def to_csv(labs: Iterable[LabResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["lab", "family", "device", "check", "passed", "reason"])
    for lab in labs:
        if lab.error:
            w.writerow([lab.lab, "", "", "lab could not be graded", "False", lab.error])
        for r in lab.results:
            w.writerow([lab.lab, r.family, r.device, r.description, r.passed, r.reason])
    return buf.getvalue()


def to_html(labs: Iterable[LabResult]) -> str:
    parts = []
    for lab in labs:
        e = html.escape
        colour = "#1a7f37" if lab.passed else "#cf222e"
        parts.append(f'<div class="nk-check-report"><b>{e(lab.lab)}</b>: '
                     f'<span style="color:{colour}">{lab.passed_count}/{len(lab.results)} checks passed '
                     f'({lab.score:.0f}%)</span>')
        for w in lab.warnings:
            parts.append(f"<div>warning: {e(w)}</div>")
        if lab.error:
            parts.append(f'<div style="color:#cf222e">not graded: {e(lab.error)}</div>')
        parts.append('<table><tr><th></th><th style="text-align:left">check</th>'
                     '<th style="text-align:left">why</th></tr>')
        for r in lab.results:
            mark = "&#10004;" if r.passed else "&#10008;"
            c = "#1a7f37" if r.passed else "#cf222e"
            parts.append(f'<tr><td style="color:{c}">{mark}</td><td style="text-align:left">{e(r.description)}</td>'
                         f'<td style="text-align:left">{"" if r.passed else e(r.reason)}</td></tr>')
        parts.append("</table></div>")
    return "\n".join(parts)
