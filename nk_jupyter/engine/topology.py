"""A snapshot of the running lab: machines, domains, interfaces, addresses, routes, state."""
from __future__ import annotations

import socket

from .runtime import LabRuntime


def _node_view(rt: LabRuntime, pid: int) -> tuple[dict[str, dict], list[dict]]:
    links: dict[str, dict] = {}
    routes: list[dict] = []
    with rt.hub.in_node(pid) as ipr:
        names = {}
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            names[link["index"]] = name
            links[name] = {"mac": link.get_attr("IFLA_ADDRESS"), "up": bool(link["flags"] & 1),
                           "mtu": link.get_attr("IFLA_MTU"), "addresses": []}
        for addr in ipr.get_addr():
            name = names.get(addr["index"])
            if name in links:
                links[name]["addresses"].append(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}")
        for fam in (socket.AF_INET, socket.AF_INET6):
            for r in ipr.get_routes(family=fam, table=254):
                dst = r.get_attr("RTA_DST")
                routes.append({"dst": f"{dst}/{r['dst_len']}" if dst else "default",
                               "gateway": r.get_attr("RTA_GATEWAY"), "dev": names.get(r.get_attr("RTA_OIF")),
                               "proto": r["proto"]})
    return links, routes


def describe(rt: LabRuntime) -> dict:
    machines = []
    domains: dict[str, list[str]] = {}
    for name, ms in rt.machines.items():
        alive = bool(ms.node and ms.node.alive())
        live, routes = _node_view(rt, ms.node.pid) if alive else ({}, [])
        ifaces = []
        for num, iface in sorted(ms.machine.interfaces.items()):
            seen = live.get(iface.name, {})
            ifaces.append({"name": iface.name, "domain": iface.link, "mac": seen.get("mac") or rt.mac(ms.machine, iface),
                           "addresses": sorted(a for a in seen.get("addresses", []) if not a.startswith("fe80"))})
            domains.setdefault(iface.link, []).append(f"{name}:{iface.name}")
        forwarding = len(ifaces) > 1
        machines.append({"name": name, "state": ms.state, "detail": ms.detail, "interfaces": ifaces,
                         "routes": routes, "router": forwarding})
    return {"lab": rt.lab.name, "machines": machines,
            "domains": [{"name": d, "members": sorted(m)} for d, m in sorted(domains.items())]}
