"""BGP through FRR's `vtysh ... json`, as kathara-lab-checker's `protocols.bgpd`:
neighbors `{device: [{ip, asn}]}` (older `peerings: {device: [ip]}`), routes
`{device: [{route, aspath: [[1, 2], ...]}]}` or plain prefixes, networks and injections
(see protocols.py).
"""
from __future__ import annotations

from collections import Counter

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "bgp"


def _peers(probe: Probe, device: str) -> dict:
    data = probe.vtysh(device, "show bgp summary json")
    peers: dict = {}
    for family in ("ipv4Unicast", "ipv6Unicast"):
        peers.update((data.get(family) or {}).get("peers", {}))
    return peers


def peer(probe: Probe, device: str, ip: str, asn: int | None = None) -> CheckResult:
    """device has an Established BGP session with ip (in AS asn, if given)."""
    def probe_fn():
        peers = _peers(probe, device)
        if ip not in peers:
            return False, f"{device} has no BGP peer {ip} (peers: {', '.join(sorted(peers)) or 'none'})"
        p = peers[ip]
        if asn is not None and int(p.get("remoteAs", -1)) != int(asn):
            return False, f"peer {ip} of {device} is in AS {p.get('remoteAs')}, not {asn}"
        if p.get("state") != "Established":
            return False, f"the session of {device} with {ip} is {p.get('state')}, not Established"
        return True, "OK"

    return guarded(FAMILY, device, f"{device} has BGP peer {ip}" + (f" AS{asn}" if asn is not None else "")
                   + " established", probe_fn)


def bgp_route(probe: Probe, device: str, prefix: str, aspaths: list[list[int]] | None = None) -> CheckResult:
    """prefix is in device's BGP table (with exactly these AS paths, if given)."""
    def probe_fn():
        data = probe.vtysh(device, f"show {'bgp ipv6' if ':' in prefix else 'ip bgp'} json")
        routes = data.get("routes", {})
        if prefix not in routes:
            return False, f"{device}'s BGP table has no {prefix}"
        if aspaths is None:
            return True, "OK"
        have = Counter(tuple(int(a) for a in str(r.get("path", "")).split()) for r in routes[prefix])
        want = Counter(tuple(int(a) for a in path) for path in aspaths)
        if have == want:
            return True, "OK"
        show = lambda c: "; ".join(" ".join(map(str, p)) or "(local)" for p in sorted(c.elements()))
        return False, f"{prefix} on {device} has AS paths {show(have)}, expected {show(want)}"

    return guarded(FAMILY, device, f"{device} has BGP route {prefix}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    for key, section in node.items():
        if key in ("neighbors", "peerings"):
            for device, items in section.items():
                for e in items.elements():
                    if isinstance(e.value, dict):
                        ip = e.get("ip")
                        if ip is None:
                            raise e.error("a BGP neighbour needs ip (and asn)")
                        asn = e.get("asn")
                        steps.append(lambda p, d=device, i=ip.text(), a=(int(asn.number()) if asn else None):
                                     [peer(p, d, i, a)])
                    else:
                        steps.append(lambda p, d=device, i=e.text(): [peer(p, d, i)])
        elif key == "routes":
            for device, items in section.items():
                for e in items.elements():
                    r = e.get("route") if isinstance(e.value, dict) else e
                    if r is None:
                        raise e.error("a BGP route needs route: PREFIX")
                    paths = e.get("aspath") if isinstance(e.value, dict) else None
                    aspaths = [[int(x.number()) for x in path.elements()] for path in paths.elements()] if paths else None
                    steps.append(lambda p, d=device, x=r.text(), a=aspaths: [bgp_route(p, d, x, a)])
        elif key not in ("networks", "injections", "evpn"):
            raise section.error(f"unknown BGP check {key!r} (known: neighbors, peerings, routes, networks, injections)")
    return steps
