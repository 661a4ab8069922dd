"""`nk ltest`: Netkit 2.8's lab test on the nk engine.

run_ltest boots the lab, waits for every startup (and --delay), then in every machine at
once runs the shared test, the machine's user test and the built-in test, each output
going to `_test/results/MACHINE.{shared,user,default}`. With no signature yet (or with
rebuild) the results become `_test/signature/` ([SIGN]); otherwise each machine is
compared with it ([ OK ] / [FAIL]). A test that outlives its timeout is stopped and its
machine fails, named in the report. The lab is crashed and cleaned at the end.
"""
from __future__ import annotations

import contextlib
import threading
import time
from ..records import dataclass, field
from pathlib import Path
from typing import Callable

from ..api import Lab
from ..errors import NkError, UserError
from ..labconf.files import Folder
from . import builtin, signature
from .execs import run_limited
from .testfiles import TEST_DIR, UserTests, find_tests

VERIFY = ("user", "builtin", "both")
BUILTIN_TIMEOUT = 30.0
SCRATCH = "/tmp/nk-ltest"


@dataclass
class MachineOutcome:
    name: str
    status: str = "OK"                    # "OK", "FAIL" or "SIGN"
    problems: list[str] = field(default_factory=list)   # timeouts, tests that could not run
    mismatches: list[signature.Mismatch] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"machine": self.name, "status": self.status, "problems": self.problems,
                "mismatches": [{"file": f"{self.name}.{m.kind}" if m.kind else "", "message": m.message,
                                "diff": m.diff} for m in self.mismatches]}


@dataclass
class LtestReport:
    lab: str
    directory: Path
    signed: bool
    machines: list[MachineOutcome]
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(m.status != "FAIL" for m in self.machines)

    @property
    def exit_status(self) -> int:
        """0: every machine passed or was signed; 1: some machine failed."""
        return 0 if self.passed else 1

    def as_dict(self) -> dict:
        return {"lab": self.lab, "directory": str(self.directory), "signed": self.signed, "passed": self.passed,
                "warnings": self.warnings, "machines": [m.as_dict() for m in self.machines]}


def _tag(status: str) -> str:
    return {"OK": "[ OK ]", "FAIL": "[FAIL]", "SIGN": "[SIGN]"}[status]


def script_lines(report: LtestReport) -> list[str]:
    """-S output: one line per machine."""
    return [f"{_tag(m.status)} {m.name}" for m in report.machines]


def text_lines(report: LtestReport) -> list[str]:
    """The readable report: a line per machine, then why each failing machine failed."""
    out = [f"warning: {w}" for w in report.warnings]
    out += [f"{_tag(m.status)} {m.name}" for m in report.machines]
    for m in report.machines:
        if m.status != "FAIL":
            continue
        out.append("")
        out.append(f"{m.name}: FAIL")
        out.extend(f"  {p}" for p in m.problems)
        for mm in m.mismatches:
            out.append(f"  {mm.message}")
            out.extend(f"    {line}" for line in mm.diff.splitlines())
    failed = [m.name for m in report.machines if m.status == "FAIL"]
    out.append("")
    if report.signed:
        out.append(f"lab {report.lab}: signature written to {report.directory / TEST_DIR / 'signature'}")
    elif failed:
        out.append(f"lab {report.lab}: FAILED on {', '.join(failed)} ({len(failed)} of {len(report.machines)})")
    else:
        out.append(f"lab {report.lab}: all {len(report.machines)} machine(s) match the signature")
    return out


def run_ltest(directory: str | Path, *, rebuild: bool = False, verify: str | None = None, delay: float = 0,
              timeout: float = 120, startup_timeout: float = 300, keep: bool = False,
              progress: Callable[[str], None] | None = None) -> LtestReport:
    """Test the lab in directory; see the module docstring. UserError if it cannot be tested."""
    if verify is not None and verify not in VERIFY:
        raise UserError(f"--verify must be one of {', '.join(VERIFY)}, not {verify!r}")
    say = progress or (lambda _m: None)
    lab = Lab.from_dir(directory)
    names = list(lab.model.machines)
    tests = find_tests(lab.directory, names)
    if lab.running:
        raise UserError(f"the lab in {lab.directory} is running; ltest boots it itself "
                        f"(stop it first: nk lcrash -d {lab.directory})")
    # _test/, results/ and signature/ are held by descriptors from here on: the lab's machines
    # write into the lab folder while they run, and nothing they plant redirects us
    with contextlib.ExitStack() as held:
        folder = held.enter_context(Folder.lab(lab.directory))
        base = held.enter_context(folder.sub(TEST_DIR, create=True))
        sig_dir = base.sub("signature")
        if sig_dir is not None:
            held.enter_context(sig_dir)
        signing = rebuild or not signature.result_files(sig_dir)
        if not signing:
            signature.check_origin(sig_dir, lab.model.name, names)
        base.remove("results")
        res_dir = held.enter_context(base.sub("results", create=True))
        return _run(lab, names, tests, base, sig_dir, res_dir, signing, verify, delay, timeout, startup_timeout,
                    keep, say)


def _run(lab: Lab, names: list[str], tests: UserTests, base: Folder, sig_dir: Folder | None, res_dir: Folder,
         signing: bool, verify: str | None, delay: float, timeout: float, startup_timeout: float, keep: bool,
         say: Callable[[str], None]) -> LtestReport:
    outcomes = {name: MachineOutcome(name) for name in names}
    warnings: list[str] = []
    try:
        say(f"starting lab {lab.model.name} ({len(names)} machine(s)) in test mode")
        started = lab.start(timeout=startup_timeout)
        for name in started.failed:
            warnings.append(f"{name}: startup failed: {started.details.get(name, '')}".rstrip(": "))
        for info in lab.info():   # Netkit ignores a startup's exit status; say it, it may explain a FAIL
            if info.startup_status not in (None, 0) and info.name not in started.failed:
                warnings.append(f"{info.name}: startup exited with status {info.startup_status}")
        if delay > 0:
            say(f"waiting {delay:g} s for the lab to settle")
            time.sleep(delay)
        say("running tests")
        workers = [threading.Thread(target=_test_machine, args=(lab, tests, outcomes[n], res_dir, timeout),
                                    daemon=True) for n in names]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        if not keep and lab.running:
            lab.crash()
    if signing:
        if any(o.status == "FAIL" for o in outcomes.values()):
            warnings.append("signature NOT written: some tests did not complete")
            signing = False
        else:
            signature.sign(res_dir, base, lab.model.name, names)
            for o in outcomes.values():
                o.status = "SIGN"
    else:
        for o in outcomes.values():
            o.mismatches = signature.compare(o.name, res_dir, sig_dir, verify)
            if o.mismatches:
                o.status = "FAIL"
    return LtestReport(lab.model.name, lab.directory, signing, [outcomes[n] for n in names], warnings)


def _test_machine(lab: Lab, tests: UserTests, outcome: MachineOutcome, res_dir: Folder, timeout: float) -> None:
    try:
        _run_tests(lab, tests, outcome, res_dir, timeout)
    except NkError as e:
        outcome.status = "FAIL"
        outcome.problems.append(f"tests could not run: {e}")


def _run_tests(lab: Lab, tests: UserTests, outcome: MachineOutcome, res_dir: Folder, timeout: float) -> None:
    name = outcome.name
    scratch = f"{SCRATCH}/{name}"
    lab.run(name, f"rm -rf {SCRATCH} && mkdir -p {scratch}", timeout=timeout)
    for kind, script in tests.for_machine(name):
        out, err = f"{scratch}/{kind}.out", f"{scratch}/{kind}.err"
        run = run_limited(lab, name, script.command(out, err), timeout)
        if run.timed_out:
            outcome.status = "FAIL"
            outcome.problems.append(f"{script.relative} did not finish within {timeout:g} s: stopped")
        elif run.error:
            outcome.status = "FAIL"
            outcome.problems.append(f"{script.relative} could not run: {run.error}")
        elif run.result.status != 0:
            # Netkit ignores a test's exit status; say it, the output still decides
            outcome.problems.append(f"note: {script.relative} exited with status {run.result.status}")
        got = lab.run(name, f"cat {out} 2>/dev/null", timeout=timeout, limit=signature.RESULT_LIMIT)
        if got.timed_out or got.truncated:
            outcome.status = "FAIL"
            outcome.problems.append(f"the result of {script.relative} could not be read "
                                    f"({'it did not end' if got.timed_out else 'it is too large'})")
        res_dir.write(f"{name}.{kind}", got.stdout.encode())
    run = run_limited(lab, name, builtin.COMMAND, BUILTIN_TIMEOUT)
    if run.timed_out or run.error:
        outcome.status = "FAIL"
        outcome.problems.append(f"the built-in test could not run: {run.error or 'timed out'}")
    res_dir.write(f"{name}.default", builtin.render(run.result.stdout).encode())
