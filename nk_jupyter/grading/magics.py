"""IPython magics for grading, registered by the nk extension through register(ip):

    %ltest [-d DIR] [-R] [--verify user|builtin|both] [-S] [--delay TIME] [--timeout S]
    %check CONFIG [-d DIR] [--labs DIR] [--live] [--keep-open] [--convergence-time S]

(the options of nk ltest and nk check: grading/options.py). %ltest prints Netkit's per-machine lines (and the diffs of failures) and returns the
LtestReport; %check shows the score report as HTML and returns the LabResult list.
Mistakes (bad arguments, malformed _test/ files or configs) are UsageErrors: one line,
no traceback. For checks inside a notebook's own lab use nk_jupyter.grading.Checker.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import UserError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit the kernel
        from IPython.core.error import UsageError
        raise UsageError(f"%{self.prog}: {message}")


def _parser(name: str, setup) -> _Parser:
    p = _Parser(prog=name, add_help=False)
    setup(p)
    return p


def ltest_magic(line: str):
    """%ltest [-d DIR] [-R] [--verify user|builtin|both] [-S] [--delay TIME] [--timeout S]"""
    from IPython.core.error import UsageError
    from .ltest import run_ltest, script_lines, text_lines
    from .options import ltest_options, parse_duration
    args = _parser("ltest", ltest_options).parse_args(shlex.split(line))
    try:
        report = run_ltest(args.directory, rebuild=args.rebuild, verify=args.verify,
                           delay=parse_duration(args.delay), timeout=args.timeout)
    except UserError as e:
        raise UsageError(f"%ltest: {e}") from None
    print("\n".join(script_lines(report) if args.script else text_lines(report)))
    return report if not report.passed else None


def check_magic(line: str):
    """%check CONFIG [-d DIR] [--labs DIR] [--live] [--keep-open] [--convergence-time S]"""
    from IPython.core.error import UsageError
    from IPython.display import HTML, display
    from .checker.grade import grade_labs
    from .options import check_options
    from .report import to_html
    args = _parser("check", check_options).parse_args(shlex.split(line))
    try:
        results = grade_labs(args.config, lab=args.directory, labs=args.labs, live=args.live,
                             keep_open=args.keep_open, convergence_time=args.convergence_time,
                             progress=lambda m: print(m, file=sys.stderr))
    except UserError as e:
        raise UsageError(f"%check: {e}") from None
    display(HTML(to_html(results)))
    return results


def register(ip) -> None:
    """Register %ltest and %check in the IPython shell ip (called by the nk extension)."""
    ip.register_magic_function(ltest_magic, magic_kind="line", magic_name="ltest")
    ip.register_magic_function(check_magic, magic_kind="line", magic_name="check")
