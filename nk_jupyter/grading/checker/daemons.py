"""Daemons running or not (`pgrep`), as kathara-lab-checker's
`daemons: {device: [ospfd, "!bgpd"]}`.
"""
from __future__ import annotations

import shlex

from .base import CheckResult, Probe, guarded, plan_per_item
from .config import Node

FAMILY = "daemons"


def daemon(probe: Probe, device: str, name: str, running: bool = True) -> CheckResult:
    """A process called name runs on device (running=False: none does)."""
    def probe_fn():
        r = probe.run(device, f"pgrep {shlex.quote(name)}")
        up = r.status == 0 and bool(r.stdout.strip())
        if up == running:
            return True, "OK"
        return False, f"{name} is {'not ' if running else ''}running on {device}"

    return guarded(FAMILY, device, f"{name} {'runs' if running else 'does not run'} on {device}", probe_fn)


def plan(node: Node) -> list:
    return plan_per_item(node, lambda p, d, name, wanted: daemon(p, d, name, running=wanted))
