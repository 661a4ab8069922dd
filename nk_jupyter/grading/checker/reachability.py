"""Reachability (and expected unreachability) with ping, as kathara-lab-checker's
`reachability: {device: [address, "!address"]}`.

ping sends a packet every 0.2 s until one answer or the deadline, so a first packet lost
to ARP does not fail a reachable destination, and an unreachable one costs `deadline`.
"""
from __future__ import annotations

import re
import shlex

from .base import CheckResult, Probe, guarded, plan_per_item
from .config import Node

FAMILY = "reachability"


def reachable(probe: Probe, device: str, destination: str, expect: bool = True, deadline: float = 2) -> CheckResult:
    """device pings destination (expect=False: it must not get an answer)."""
    verb = "reaches" if expect else "does not reach"

    def probe_fn():
        r = probe.run(device, f"ping -q -n -c 1 -i 0.2 -w {deadline:g} {shlex.quote(destination)}",
                      timeout=deadline + 10)
        m = re.search(r"(\d+) (?:packets )?received", r.stdout)
        got = bool(m and int(m.group(1)) > 0)
        if got == expect:
            return True, "OK"
        if expect:
            why = (r.stderr or r.stdout).strip().splitlines()
            detail = why[-1] if why and not m else "no answer"
            return False, f"{device} gets no answer from {destination} ({detail})"
        return False, f"{device} can reach {destination}"

    return guarded(FAMILY, device, f"{device} {verb} {destination}", probe_fn)


def plan(node: Node) -> list:
    return plan_per_item(node, lambda p, d, dest, wanted: reachable(p, d, dest, expect=wanted))
