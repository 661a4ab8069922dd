"""The checker: graders' checks on a running lab, from Python or from a kathara-lab-checker
configuration.

    chk = Checker(lab, within=30)          # retry each failing check for up to 30 s
    chk.reachable("pc1", "10.0.2.2")
    chk.route("r1", "10.0.2.0/24", via="10.0.0.2")
    chk.ospf_neighbor("r1", "2.2.2.2")
    chk.verify()                           # raises CheckFailed listing what failed

Each method returns its CheckResult (custom commands: a list) and records it; `report()`
is the LabResult (HTML in a notebook). One module per family: reachability, routes,
interfaces, daemons, ospf, bgp, protocols, dns, http, sysctl, custom, structure.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from ...api import Lab
from . import bgp, custom, daemons, dns, http, interfaces, ospf, reachability, routes, sysctl
from .base import CheckResult, Probe
from .config import load_config

__all__ = ["Checker", "CheckFailed", "CheckResult", "grade", "load_config"]


class CheckFailed(AssertionError):
    """Some checks failed; the message lists each with its reason."""

    def __init__(self, failed: list[CheckResult], total: int) -> None:
        self.failed = failed
        lines = [f"{len(failed)} of {total} checks failed:"] + [f"  {r}" for r in failed]
        super().__init__("\n".join(lines))


class Checker:
    """Checks on a running lab; within > 0 retries a failing check until it passes or time is up."""

    def __init__(self, lab: Lab, within: float = 0, name: str | None = None) -> None:
        self.lab = lab
        self.within = within
        self.name = name or lab.model.name
        self.probe = Probe(lab)
        self.results: list[CheckResult] = []

    def _do(self, fn: Callable[[], CheckResult | list[CheckResult]], within: float | None):
        limit = self.within if within is None else within
        end = time.monotonic() + limit
        while True:
            out = fn()
            items = out if isinstance(out, list) else [out]
            if all(r.passed for r in items) or time.monotonic() >= end:
                self.results.extend(items)
                return out
            time.sleep(0.5)

    # -- the checks --------------------------------------------------------------------
    def reachable(self, device: str, destination: str, within: float | None = None) -> CheckResult:
        return self._do(lambda: reachability.reachable(self.probe, device, destination), within)

    def unreachable(self, device: str, destination: str, within: float | None = None) -> CheckResult:
        return self._do(lambda: reachability.reachable(self.probe, device, destination, expect=False), within)

    def route(self, device: str, prefix: str, via: str | list[str] | None = None,
              within: float | None = None) -> CheckResult:
        return self._do(lambda: routes.route(self.probe, device, prefix, via), within)

    def no_route(self, device: str, prefix: str, within: float | None = None) -> CheckResult:
        return self._do(lambda: routes.route(self.probe, device, prefix, present=False), within)

    def address(self, device: str, interface: str | int, cidr: str, within: float | None = None) -> CheckResult:
        return self._do(lambda: interfaces.address(self.probe, device, interface, cidr), within)

    def daemon(self, device: str, name: str, running: bool = True, within: float | None = None) -> CheckResult:
        return self._do(lambda: daemons.daemon(self.probe, device, name, running), within)

    def ospf_neighbor(self, device: str, router_id: str, state: str = "FULL", within: float | None = None) -> CheckResult:
        return self._do(lambda: ospf.neighbor(self.probe, device, router_id, state), within)

    def ospf_route(self, device: str, prefix: str, within: float | None = None) -> CheckResult:
        return self._do(lambda: ospf.ospf_route(self.probe, device, prefix), within)

    def bgp_peer(self, device: str, ip: str, asn: int | None = None, within: float | None = None) -> CheckResult:
        return self._do(lambda: bgp.peer(self.probe, device, ip, asn), within)

    def bgp_route(self, device: str, prefix: str, aspaths: list[list[int]] | None = None,
                  within: float | None = None) -> CheckResult:
        return self._do(lambda: bgp.bgp_route(self.probe, device, prefix, aspaths), within)

    def dns(self, device: str, name: str, expected: str | list[str], rtype: str = "A", server: str | None = None,
            within: float | None = None) -> CheckResult:
        return self._do(lambda: dns.record(self.probe, device, name, expected, rtype, server), within)

    def http(self, device: str, url: str, status: int = 200, body_contains: str | None = None,
             regex_body: str | None = None, method: str = "GET", within: float | None = None) -> CheckResult:
        return self._do(lambda: http.http(self.probe, device, url, status, method, body_contains, regex_body), within)

    def sysctl(self, device: str, key: str, value: str | int, within: float | None = None) -> CheckResult:
        return self._do(lambda: sysctl.sysctl(self.probe, device, key, value), within)

    def command(self, device: str, command: str, exit_code: int | None = None, output: str | None = None,
                regex: str | None = None, within: float | None = None) -> list[CheckResult]:
        return self._do(lambda: custom.command(self.probe, device, command, exit_code, output, regex), within)

    def config(self, path: str | Path) -> list[CheckResult]:
        """Run every check of a kathara-lab-checker configuration on this (running) lab."""
        from .grade import build_plan, run_plan
        out = run_plan(build_plan(load_config(path)), self.lab)
        self.results.extend(out)
        return out

    # -- outcome -----------------------------------------------------------------------
    def report(self):
        from ..report import LabResult
        return LabResult(self.name, str(self.lab.directory), list(self.results))

    def verify(self):
        """The report if every check passed; CheckFailed (an AssertionError) otherwise."""
        failed = [r for r in self.results if not r.passed]
        if failed:
            raise CheckFailed(failed, len(self.results))
        return self.report()

    def _repr_html_(self) -> str:
        return self.report()._repr_html_()

    def __repr__(self) -> str:
        return repr(self.report())


def grade(config: str | Path, lab: str | Path | None = None, labs: str | Path | None = None, live: bool = False,
          convergence_time: float | None = None):
    """Grade lab folder(s) with a configuration (see grade.grade_labs); list of LabResult."""
    from .grade import grade_labs
    return grade_labs(config, lab=lab, labs=labs, live=live, convergence_time=convergence_time)
