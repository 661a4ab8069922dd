"""Kernel routes (`ip -j route`), as kathara-lab-checker's `kernel_routes`:
`{device: ["10.0.2.0/24", "!10.9.0.0/16", ["10.0.3.0/24", ["10.0.1.2", "eth1"]]]}`.

A route must be present (with every next hop given: an address is a gateway, a name an
interface), or absent when written `!prefix`. Other routes the device has are allowed.
"default" and 0.0.0.0/0 are the same; a bare address means a host route.
"""
from __future__ import annotations

import ipaddress

from .base import CheckResult, Probe, guarded, negated
from .config import Node

FAMILY = "kernel_routes"


def _prefix(text: str, v6: bool = False) -> str:
    if text == "default":
        return "::/0" if v6 else "0.0.0.0/0"
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text


def kernel_routes(probe: Probe, device: str, v6: bool = False) -> dict[str, set[tuple[str, str]]]:
    """{prefix: {(gateway or "", device)}} of the device's main table."""
    table = probe.json(device, "ip -j -6 route" if v6 else "ip -j route")
    nexthops = None
    out: dict[str, set[tuple[str, str]]] = {}
    for r in table:
        hops: set[tuple[str, str]] = set()
        if "nexthops" in r:
            hops = {(h.get("gateway") or (h.get("via") or {}).get("host", ""), h.get("dev", "")) for h in r["nexthops"]}
        elif "gateway" in r or "dev" in r:
            hops = {(r.get("gateway") or (r.get("via") or {}).get("host", ""), r.get("dev", ""))}
        if "nhid" in r and not hops - {("", "")}:
            nexthops = nexthops if nexthops is not None else probe.json(device, "ip -j nexthop")
            by_id = {n.get("id"): n for n in nexthops}
            nh = by_id.get(r["nhid"], {})
            members = [by_id.get(g.get("id"), {}) for g in nh.get("group", [])] or [nh]
            hops = {(m.get("gateway", ""), m.get("dev", "")) for m in members}
        out.setdefault(_prefix(r.get("dst", "?"), v6), set()).update(hops)
    return out


def route(probe: Probe, device: str, prefix: str, via: list[str] | str | None = None,
          present: bool = True) -> CheckResult:
    """The kernel route to prefix is in device's table (with next hops via, if given)."""
    hops = [via] if isinstance(via, str) else list(via or [])
    v6 = ":" in prefix
    want = _prefix(prefix, v6)
    desc = f"{device} has a route to {prefix}" + (f" via {', '.join(hops)}" if hops else "")
    if not present:
        desc = f"{device} has no route to {prefix}"

    def probe_fn():
        table = kernel_routes(probe, device, v6)
        if not present:
            return (want not in table), ("OK" if want not in table else f"{device} has a route to {want}")
        if want not in table:
            return False, f"{device} has no route to {want} (routes: {', '.join(sorted(table)) or 'none'})"
        actual = table[want]
        missing = [h for h in hops if not any(h in (gw, dev) for gw, dev in actual)]
        if missing:
            shown = ", ".join(f"via {gw} dev {dev}" if gw else f"dev {dev}" for gw, dev in sorted(actual))
            return False, f"route {want} on {device} has next hop(s) {shown}, not {', '.join(missing)}"
        return True, "OK"

    return guarded(FAMILY, device, desc, probe_fn)


def plan(node: Node) -> list:
    steps = []
    for device, entries in node.items():
        for e in entries.elements():
            if isinstance(e.value, list):
                if len(e.value) != 2 or not isinstance(e.value[1], list):
                    raise e.error('a route with next hops is ["PREFIX", ["NEXTHOP", ...]]')
                prefix, neg = e.child(0).text(), False
                hops = [h.text() for h in e.child(1).elements()]
            else:
                (prefix, neg), hops = negated(e.text()), []
            steps.append(lambda p, d=device, x=prefix, h=hops, n=neg: [route(p, d, x, h, present=not n)])
    return steps
