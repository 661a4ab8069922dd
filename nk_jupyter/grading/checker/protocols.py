"""The `protocols:` section: dispatch to ospf/bgp, plus the checks any FRR daemon has:
networks `{device: [PREFIX]}` (announced with a `network` line) and injections
`{device: [PROTO, "!PROTO"]}` (redistributed), read from `show running-config`.
"""
from __future__ import annotations

import re

from . import bgp, ospf
from .base import CheckResult, CommandFailed, Probe, guarded, negated
from .config import Node

FAMILY = "protocols"
ROUTERS = {"bgpd": "bgp", "ospfd": "ospf", "ospf6d": "ospf6", "ripd": "rip", "ripngd": "ripng", "isisd": "isis"}


def _router_block(probe: Probe, device: str, daemon: str) -> list[str]:
    r = probe.run(device, "vtysh -c 'show running-config'")
    if r.status != 0:
        raise CommandFailed(f"vtysh on {device} failed: {(r.stderr or r.stdout).strip()}")
    word = ROUTERS.get(daemon, daemon.rstrip("d"))
    block, inside = [], False
    for line in r.stdout.splitlines():
        if re.match(rf"router {re.escape(word)}\b", line):
            inside = True
        elif inside and (line.startswith("exit") or line[:1] not in (" ", "\t", "")):
            inside = False
        if inside:
            block.append(line.strip())
    return block


def announced(probe: Probe, device: str, daemon: str, prefix: str) -> CheckResult:
    def probe_fn():
        block = _router_block(probe, device, daemon)
        ok = any(re.match(rf"network\s+{re.escape(prefix)}(\s|$)", line) for line in block)
        return ok, "OK" if ok else f"{device} does not announce {prefix} in {daemon} (no `network {prefix}`)"
    return guarded(FAMILY, device, f"{device} announces {prefix} in {daemon}", probe_fn)


def redistributes(probe: Probe, device: str, daemon: str, source: str, expect: bool = True) -> CheckResult:
    def probe_fn():
        block = _router_block(probe, device, daemon)
        found = any(re.match(rf"redistribute\s+{re.escape(source)}\b", line) for line in block)
        if found == expect:
            return True, "OK"
        return False, f"{device} {'does not redistribute' if expect else 'redistributes'} {source} into {daemon}"
    return guarded(FAMILY, device, f"{device} {'redistributes' if expect else 'does not redistribute'} "
                                   f"{source} into {daemon}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    for daemon, section in node.items():
        if daemon == "ospfd":
            steps += ospf.plan(section)
        elif daemon == "bgpd":
            steps += bgp.plan(section)
        for key, sub in section.items():
            if key == "networks" and daemon == "bgpd":
                for device, prefixes in sub.items():
                    for x in prefixes.elements():
                        steps.append(lambda p, d=device, n=daemon, x=x.text(): [announced(p, d, n, x)])
            elif key == "injections":
                for device, sources in sub.items():
                    for s in sources.elements():
                        src, neg = negated(s.text())
                        steps.append(lambda p, d=device, n=daemon, s=src, neg=neg: [redistributes(p, d, n, s, not neg)])
            elif daemon not in ("ospfd", "bgpd"):
                raise sub.error(f"for {daemon} only injections can be checked (or use custom_commands)")
    return steps
