"""Grading verbs: ltest (Netkit lab tests with signatures), check (kathara-lab-checker
configurations), nbval-sanitize-path (the nbval sanitize file nk ships).

Exit status of ltest and check: 0 passed (or signed), 1 some test or check failed,
3 the lab could not be tested (malformed _test/ file or config, foreign signature ...).
"""
from __future__ import annotations

import sys

from ..errors import UserError
from .common import add_dir

CANNOT_TEST = 3


def _setup_ltest(p) -> None:
    add_dir(p)
    p.add_argument("-R", "--rebuild-signature", dest="rebuild", action="store_true",
                   help="make the results the new signature (_test/signature)")
    p.add_argument("--verify", choices=("user", "builtin", "both"), default=None,
                   help="compare MACHINE.user, MACHINE.default or every file (default: .user if signed, else .default)")
    p.add_argument("-S", "--script-mode", dest="script", action="store_true",
                   help="print only one [ OK ] / [FAIL] / [SIGN] line per machine")
    p.add_argument("--delay", default="0", metavar="TIME",
                   help="settle time after every startup before testing (seconds, or 30s, 2m ...)")
    p.add_argument("--timeout", type=float, default=120, metavar="S", help="per-machine time limit of each test script")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def parse_duration(text: str) -> float:
    """sleep-style durations: 30, 30s, 1.5m, 1h, 1d."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            return float(t[:-1]) * units[t[-1]]
        return float(t)
    except ValueError:
        raise UserError(f"--delay {text!r}: give a number of seconds, or e.g. 30s, 2m") from None


def ltest(args) -> int:
    import json
    from ..grading.ltest import run_ltest, script_lines, text_lines
    quiet = args.script or args.json
    try:
        report = run_ltest(args.directory, rebuild=args.rebuild, verify=args.verify, delay=parse_duration(args.delay),
                           timeout=args.timeout, progress=None if quiet else lambda m: print(m, file=sys.stderr))
    except UserError as e:
        print(f"nk ltest: {e}", file=sys.stderr)
        return CANNOT_TEST
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(script_lines(report) if args.script else text_lines(report)))
    return report.exit_status


def _setup_check(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a kathara-lab-checker configuration (JSON or YAML)")
    p.add_argument("-d", dest="directory", default=None, metavar="DIR", help="the lab to grade (default: the current folder)")
    p.add_argument("--labs", default=None, metavar="DIR", help="grade every lab folder in DIR (a class's submissions)")
    p.add_argument("--live", action="store_true", help="grade the already-running lab; do not start or stop it")
    p.add_argument("--keep-open", action="store_true", help="leave the lab running after the checks")
    p.add_argument("--convergence-time", type=float, default=None, metavar="S",
                   help="seconds to wait after the startups (default: the config's convergence_time)")
    p.add_argument("-f", "--format", choices=("text", "json", "csv"), default="text", help="report format")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write the report to FILE instead of stdout")


def check(args) -> int:
    from ..grading.checker.grade import grade_labs
    from ..grading import report as rep
    try:
        results = grade_labs(args.config, lab=args.directory, labs=args.labs, live=args.live,
                             keep_open=args.keep_open, convergence_time=args.convergence_time,
                             progress=lambda m: print(m, file=sys.stderr))
    except UserError as e:
        print(f"nk check: {e}", file=sys.stderr)
        return CANNOT_TEST
    text = {"text": rep.to_text, "json": rep.to_json, "csv": rep.to_csv}[args.format](results)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0 if all(r.passed for r in results) else 1


def nbval_sanitize_path(args) -> int:
    from ..grading import sanitize_path
    print(sanitize_path())
    return 0


COMMANDS = {
    "ltest": (_setup_ltest, ltest, "test a lab against its signature (Netkit ltest: _test/, -R, --verify, -S)"),
    "check": (_setup_check, check, "grade labs with a kathara-lab-checker configuration (score report)"),
    "nbval-sanitize-path": (lambda p: None, nbval_sanitize_path,
                            "print the path of nk's nbval sanitize file (for --nbval-sanitize-with)"),
}
