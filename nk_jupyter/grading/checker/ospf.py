"""OSPF through FRR's `vtysh ... json`, as kathara-lab-checker's `protocols.ospfd`:
neighbors `{device: [{router_id, state}]}` (state defaults to FULL), routes
`{device: [{route: PREFIX}]}` (or plain prefixes), interfaces `{device: {eth0: {key: value}}}`.
"""
from __future__ import annotations

from .base import CheckResult, Probe, guarded
from .config import Node

FAMILY = "ospf"


def _state(entry: dict) -> str:
    state = entry.get("converged") or entry.get("nbrState") or entry.get("state") or "?"
    return str(state).split("/")[0].upper()


def neighbor(probe: Probe, device: str, router_id: str, state: str = "FULL") -> CheckResult:
    """device has OSPF neighbour router_id in state (FULL by default)."""
    want = state.upper()

    def probe_fn():
        neighbors = probe.vtysh(device, "show ip ospf neighbor json").get("neighbors", {})
        if router_id not in neighbors:
            return False, f"{device} has no OSPF neighbour {router_id} (neighbours: {', '.join(sorted(neighbors)) or 'none'})"
        states = [_state(e) for e in neighbors[router_id]]
        if want in states:
            return True, "OK"
        return False, f"neighbour {router_id} of {device} is {'/'.join(states)}, not {want}"

    return guarded(FAMILY, device, f"{device} has OSPF neighbour {router_id} ({want})", probe_fn)


def ospf_route(probe: Probe, device: str, prefix: str) -> CheckResult:
    """prefix is in device's OSPF routing table."""
    def probe_fn():
        data = probe.vtysh(device, "show ip ospf route json")
        routes = data.get("routes", data)
        if prefix in routes:
            return True, "OK"
        nets = sorted(k for k in routes if "/" in k)
        return False, f"{device}'s OSPF table has no {prefix} (it has {', '.join(nets) or 'nothing'})"

    return guarded(FAMILY, device, f"{device} has OSPF route {prefix}", probe_fn)


def ospf_interface(probe: Probe, device: str, interface: str, expected: dict) -> CheckResult:
    """OSPF parameters of device's interface (show ip ospf interface json) equal expected."""
    def probe_fn():
        data = probe.vtysh(device, "show ip ospf interface json")
        ifaces = data.get("interfaces", data)
        if interface not in ifaces:
            return False, f"OSPF does not run on {device} {interface}"
        got = ifaces[interface]
        wrong = [f"{k} is {got.get(k)!r}, not {v!r}" for k, v in expected.items()
                 if str(got.get(k)).lower() != str(v).lower()]
        return (not wrong), ("OK" if not wrong else "; ".join(wrong))

    params = ", ".join(f"{k}={v}" for k, v in expected.items())
    return guarded(FAMILY, device, f"{device} {interface} OSPF {params}", probe_fn)


def plan(node: Node) -> list:
    steps = []
    for key, section in node.items():
        if key == "neighbors":
            for device, items in section.items():
                for e in items.elements():
                    rid = e.get("router_id")
                    if rid is None:
                        raise e.error("an OSPF neighbour needs router_id")
                    st = e.get("state")
                    steps.append(lambda p, d=device, r=rid.text(), s=(st.text() if st else "FULL"): [neighbor(p, d, r, s)])
        elif key == "routes":
            for device, items in section.items():
                for e in items.elements():
                    r = e.get("route") if isinstance(e.value, dict) else e
                    if r is None:
                        raise e.error("an OSPF route needs route: PREFIX")
                    steps.append(lambda p, d=device, x=r.text(): [ospf_route(p, d, x)])
        elif key == "interfaces":
            for device, ifaces in section.items():
                for iface, params in ifaces.items():
                    expected = {k: v.value for k, v in params.items()}
                    steps.append(lambda p, d=device, i=iface, x=expected: [ospf_interface(p, d, i, x)])
        elif key != "injections":
            raise section.error(f"unknown OSPF check {key!r} (known: neighbors, routes, interfaces, injections)")
    return steps
