"""Grading verbs: ltest (Netkit lab tests with signatures), check (kathara-lab-checker
configurations), nbval-sanitize-path (the nbval sanitize file nk ships).

Exit status of ltest and check: 0 passed (or signed), 1 some test or check failed,
3 the lab could not be tested (malformed _test/ file or config, foreign signature ...).
"""
from __future__ import annotations

import sys

from ..errors import UserError
from ..grading.options import check_options, ltest_options, parse_duration

CANNOT_TEST = 3


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
    "ltest": (ltest_options, ltest, "test a lab against its signature (Netkit ltest: _test/, -R, --verify, -S)"),
    "check": (check_options, check, "grade labs with a kathara-lab-checker configuration (score report)"),
    "nbval-sanitize-path": (lambda p: None, nbval_sanitize_path,
                            "print the path of nk's nbval sanitize file (for --nbval-sanitize-with)"),
}
