"""Grading labs: Netkit's `ltest` with signatures, a kathara-lab-checker compatible checker,
and what nbval needs to grade notebooks.

    from nk_jupyter.grading import run_ltest, Checker, grade
    report = run_ltest("labs/arp")                 # boots, tests, compares, crashes
    chk = Checker(lab)                             # a running nk_jupyter.Lab
    chk.reachable("pc1", "10.0.2.2"); chk.route("pc1", "10.0.2.0/24", via="10.0.1.1")
    chk.verify()                                   # raises CheckFailed naming every failed check
    results = grade("correction.yaml", lab="student1")   # a kathara-lab-checker config

Nothing heavy is imported until used.
"""
from __future__ import annotations

from pathlib import Path

SANITIZE_FILE = "nbval_sanitize.cfg"


def sanitize_path() -> Path:
    """The nbval sanitize file shipped with nk (for `pytest --nbval-sanitize-with PATH`)."""
    return Path(__file__).with_name(SANITIZE_FILE)


def __getattr__(name: str):
    if name in ("run_ltest", "LtestReport"):
        from . import ltest
        return getattr(ltest, name)
    if name in ("Checker", "CheckFailed", "CheckResult", "grade", "load_config"):
        from . import checker
        return getattr(checker, name)
    raise AttributeError(name)


__all__ = ["run_ltest", "LtestReport", "Checker", "CheckFailed", "CheckResult", "grade", "load_config",
           "sanitize_path"]
