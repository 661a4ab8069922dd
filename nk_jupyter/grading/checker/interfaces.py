"""Interface addresses (`ip -j address`), as kathara-lab-checker's `ip_mapping`:
`{device: {0: "10.0.0.1/24", eth1: "10.0.1.1/24", lo: "1.1.1.1/32"}}` (a number means ethN).
"""
from __future__ import annotations

import ipaddress

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "ip_mapping"


def address(probe: Probe, device: str, interface: str | int, cidr: str) -> CheckResult:
    """device's interface carries the address cidr (address and prefix length)."""
    name = f"eth{interface}" if str(interface).isdigit() else str(interface)
    want = ipaddress.ip_interface(cidr)

    def probe_fn():
        links = {link.get("ifname"): link for link in probe.json(device, "ip -j address")}
        if name not in links:
            return False, f"{device} has no interface {name} (it has {', '.join(sorted(links))})"
        have = [f"{a.get('local')}/{a.get('prefixlen')}" for a in links[name].get("addr_info", [])]
        for a in links[name].get("addr_info", []):
            if a.get("local") == str(want.ip):
                if int(a.get("prefixlen", -1)) == want.network.prefixlen:
                    return True, "OK"
                return False, f"{want.ip} on {device} {name} has prefix length /{a.get('prefixlen')}, not /{want.network.prefixlen}"
        return False, f"{device} {name} has {', '.join(have) or 'no address'}, not {cidr}"

    return guarded(FAMILY, device, f"{device} {name} has address {cidr}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    for device, ifaces in node.items():
        for iface, value in ifaces.items():
            cidr = value.text()
            try:
                ipaddress.ip_interface(cidr)
            except ValueError:
                raise value.error(f"{cidr!r} is not an address with prefix length (e.g. 10.0.0.1/24)") from None
            steps.append(lambda p, d=device, i=iface, c=cidr: [address(p, d, i, c)])
    return steps
