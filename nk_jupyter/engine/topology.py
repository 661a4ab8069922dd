"""A snapshot of the running lab (model/topology.py): what lab.conf says, plus what each
running machine's kernel says (addresses, routes, MACs), read through pyroute2 in its netns."""
from __future__ import annotations

import socket

from ..model.topology import InterfaceView, MachineView, RouteView, Topology
from .runtime import LabRuntime


def _machine_view(rt: LabRuntime, netns: int) -> tuple[dict[str, dict], list[RouteView]]:
    links: dict[str, dict] = {}
    routes: list[RouteView] = []
    with rt.hub.in_node(netns) as ipr:
        names = {}
        for link in ipr.get_links():
            name = link.get_attr("IFLA_IFNAME")
            names[link["index"]] = name
            links[name] = {"mac": link.get_attr("IFLA_ADDRESS"), "addresses": []}
        for addr in ipr.get_addr():
            name = names.get(addr["index"])
            if name in links:
                links[name]["addresses"].append(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}")
        for fam in (socket.AF_INET, socket.AF_INET6):
            for r in ipr.get_routes(family=fam, table=254):
                dst = r.get_attr("RTA_DST")
                routes.append(RouteView(f"{dst}/{r['dst_len']}" if dst else "default", r.get_attr("RTA_GATEWAY"),
                                        names.get(r.get_attr("RTA_OIF")), int(r["proto"])))
    return links, routes


def describe(rt: LabRuntime) -> Topology:
    machines = []
    for name, rec in rt.machines.items():
        live, routes = _machine_view(rt, rec.handle.netns()) if rec.up else ({}, [])
        ifaces = []
        for num, iface in sorted(rec.machine.interfaces.items()):
            seen = live.get(iface.name, {})
            ifaces.append(InterfaceView(iface.name, iface.link, seen.get("mac") or rt.mac(rec.machine, iface),
                                        sorted(a for a in seen.get("addresses", []) if not a.startswith("fe80"))))
        image = rec.machine.options.image or "" if rec.backend == "podman" else ""
        machines.append(MachineView(name, rec.state, rec.detail, ifaces, routes, image))
    return Topology.of(rt.lab.name, machines)
