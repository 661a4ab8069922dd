"""The options of the grading verbs, shared by `nk ltest` / `nk check` and %ltest / %check
(one definition: the CLI and the magics cannot drift apart)."""
from __future__ import annotations

from ..errors import UserError


def ltest_options(p) -> None:
    p.add_argument("-d", dest="directory", default=".", metavar="DIR", help="lab folder (default: the current folder)")
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


def check_options(p) -> None:
    p.add_argument("config", metavar="CONFIG", help="a kathara-lab-checker configuration (JSON or YAML)")
    p.add_argument("-d", dest="directory", default=None, metavar="DIR", help="the lab to grade (default: the current folder)")
    p.add_argument("--labs", default=None, metavar="DIR", help="grade every lab folder in DIR (a class's submissions)")
    p.add_argument("--live", action="store_true", help="grade the already-running lab; do not start or stop it")
    p.add_argument("--keep-open", action="store_true", help="leave the lab running after the checks")
    p.add_argument("--convergence-time", type=float, default=None, metavar="S",
                   help="seconds to wait after the startups (default: the config's convergence_time)")
    p.add_argument("-f", "--format", choices=("text", "json", "csv"), default="text", help="report format")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write the report to FILE instead of stdout")


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
