"""Grading with a configuration: build the plan (all config errors first), then run it on
a lab — started here (wait convergence_time, check, crash) or already running (live).

    results = grade_labs("correction.yaml", lab="student1")       # list[LabResult]
"""
from __future__ import annotations

import time
from ...records import dataclass, field
from pathlib import Path
from typing import Callable

from ...api import Lab
from ...errors import LabConfError, NkError, UserError
from ..report import LabResult
from . import custom, daemons, dns, http, interfaces, protocols, reachability, routes, structure, sysctl
from .base import CheckResult, Probe
from .config import Config, load_config

Step = Callable[[Probe], list[CheckResult]]
# test: keys in kathara-lab-checker's order of priority, and how each is planned
SECTIONS: list[tuple[str, Callable]] = [
    ("ipv6_enabled", sysctl.plan_ipv6), ("sysctls", sysctl.plan), ("ip_mapping", interfaces.plan),
    ("reachability", reachability.plan), ("daemons", daemons.plan), ("protocols", protocols.plan),
    ("kernel_routes", routes.plan), ("custom_commands", custom.plan),
]
UNSUPPORTED = ("bridges",)
TOP_KEYS = ("labs_path", "convergence_time", "default_image", "structure", "lab_inline", "test", "report_type")


@dataclass
class Plan:
    config: Config
    convergence_time: float = 0
    template: dict[str, dict[int, str]] | None = None
    requiring_startup: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_plan(config: Config) -> Plan:
    """Check the whole configuration and turn it into steps; LabConfError at the first problem."""
    root = config.node()
    plan = Plan(config)
    for key, node in root.items():
        if key not in TOP_KEYS:
            raise node.error(f"unknown key (known: {', '.join(TOP_KEYS)})")
    ct = root.get("convergence_time")
    plan.convergence_time = ct.number() if ct is not None else 0
    plan.template = _template(config)
    test = root.get("test")
    if test is None:
        raise LabConfError(config.path, 1, "no `test:` section: nothing to check")
    names = [k for k, _ in test.items()]
    known = {k for k, _ in SECTIONS} | {"requiring_startup", "applications"} | set(UNSUPPORTED)
    for key in names:
        if key not in known:
            raise test.child(key).error(f"unknown check (known: {', '.join(sorted(known))})")
    if "requiring_startup" in names:
        plan.requiring_startup = [n.text() for n in test.child("requiring_startup").elements()]
    for key in UNSUPPORTED:
        if key in names:
            plan.warnings.append(f"{config.path}:{config.line(('test', key))}: test.{key} is not supported by nk check; skipped")
    for key, planner in SECTIONS:
        if key in names:
            plan.steps += planner(test.child(key))
    apps = test.get("applications")
    if apps is not None:
        for app, node in apps.items():
            if app == "dns":
                plan.steps += dns.plan(node)
            elif app == "http":
                plan.steps += http.plan(node)
            else:
                raise node.error(f"unknown application check {app!r} (known: dns, http)")
    protos = test.get("protocols")
    if protos is not None and isinstance(protos.value, dict):
        for daemon, section in protos.items():
            if isinstance(section.value, dict) and "evpn" in section.value:
                plan.warnings.append(f"{config.path}:{config.line(section.path + ('evpn',))}: "
                                     "EVPN checks are not supported by nk check; skipped")
    return plan


def _template(config: Config) -> dict | None:
    root = config.node()
    inline, ref = root.get("lab_inline"), root.get("structure")
    if inline is not None:
        try:
            return structure.template_interfaces(inline.text(), config.path)
        except LabConfError as e:   # a line of the inline lab.conf: say where it is in the file
            key_line = config.line(("lab_inline",)) or 1
            block = config.path.suffix.lower() != ".json" and e.line
            raise LabConfError(config.path, key_line + e.line if block else key_line,
                               f"lab_inline: {e.message}") from None
    if ref is not None:
        base = config.path.parent
        for candidate in (base / ref.text(), base.parent / ref.text(), Path(ref.text())):
            if candidate.is_file():
                return structure.template_interfaces(candidate.read_text(errors="replace"), candidate)
        raise ref.error(f"the structure file {ref.text()!r} does not exist (looked next to the configuration)")
    return None


def run_plan(plan: Plan, lab: Lab, timeout: float | None = None) -> list[CheckResult]:
    """Every check of plan on a running lab, in order."""
    results: list[CheckResult] = []
    if plan.template is not None:
        results += structure.devices_exist(lab, plan.template)
        results += structure.collision_domains(lab, plan.template)
    results += [structure.startup_exists(lab, d) for d in plan.requiring_startup]
    probe = Probe(lab, timeout) if timeout else Probe(lab)
    for step in plan.steps:
        results += step(probe)
    return results


def grade_lab(plan: Plan, directory: str | Path, live: bool = False, keep_open: bool = False,
              convergence_time: float | None = None, progress: Callable[[str], None] | None = None) -> LabResult:
    """Grade one lab folder; a lab that cannot be read or started is a result with an error."""
    say = progress or (lambda _m: None)
    name = Path(directory).name
    if Path(directory).is_symlink():  # a submission that points elsewhere is not graded there
        return LabResult(name, str(directory), [], list(plan.warnings),
                         error=f"{directory} is a symlink; a submitted lab must be a folder")
    try:
        lab = Lab.from_dir(directory)
    except NkError as e:
        return LabResult(name, str(directory), [], list(plan.warnings), error=str(e))
    started = False
    try:
        if live:
            if not lab.running:
                raise UserError(f"--live: no lab is running in {lab.directory}")
        else:
            if lab.running:
                say(f"{name}: crashing the running lab first")
                lab.crash()
            say(f"{name}: starting")
            lab.start()
            started = True
            wait = plan.convergence_time if convergence_time is None else convergence_time
            if wait > 0:
                say(f"{name}: waiting {wait:g} s for convergence")
                time.sleep(wait)
        say(f"{name}: checking")
        results = run_plan(plan, lab)
        return LabResult(name, str(lab.directory), results, list(plan.warnings))
    except NkError as e:
        return LabResult(name, str(lab.directory), [], list(plan.warnings), error=str(e))
    finally:
        if started and not keep_open and lab.running:
            lab.crash()


def grade_labs(config_path: str | Path, lab: str | Path | None = None, labs: str | Path | None = None,
               live: bool = False, keep_open: bool = False, convergence_time: float | None = None,
               progress: Callable[[str], None] | None = None) -> list[LabResult]:
    """Grade one lab (lab), every lab folder in labs, or the config's labs_path."""
    config = load_config(config_path)
    plan = build_plan(config)
    if lab is not None and labs is not None:
        raise UserError("give either -d LAB or --labs DIR, not both")
    if lab is None and labs is None:
        lp = config.node().get("labs_path")
        labs = (config.path.parent / lp.text()) if lp is not None else None
        lab = "." if labs is None else None
    if lab is not None:
        return [grade_lab(plan, lab, live, keep_open, convergence_time, progress)]
    folder = Path(labs)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder of labs")
    subs = sorted((p for p in folder.iterdir() if (p.is_dir() or p.is_symlink()) and not p.name.startswith(".")),
                  key=lambda p: p.name.casefold())
    if not subs:
        raise UserError(f"{folder} has no lab folders")
    return [grade_lab(plan, p, live, keep_open, convergence_time, progress) for p in subs]
