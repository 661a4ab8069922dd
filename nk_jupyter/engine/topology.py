"""A snapshot of the running lab (model/topology.py): what lab.conf says, plus what each
running machine's kernel says (addresses, routes, MACs), read in its netns (Hub.snapshot)."""
from __future__ import annotations

import struct

from ..linux import netlink
from ..model.topology import InterfaceView, MachineView, RouteView, Topology
from .runtime import LabRuntime


def _machine_view(rt: LabRuntime, netns: int) -> tuple[dict[str, dict], list[RouteView], int]:
    seen = rt.hub.snapshot(netns)
    links = {name: {"mac": mac, "addresses": []} for name, mac in seen.links.values()}
    for index, address in seen.addresses:
        if index in seen.links:
            links[seen.links[index][0]]["addresses"].append(address)
    names = {index: name for index, (name, _mac) in seen.links.items()}
    routes = [RouteView(dst, gateway, names.get(oif), protocol) for dst, gateway, oif, protocol in seen.routes]
    return links, routes, seen.left_out


def describe(rt: LabRuntime) -> Topology:
    machines = []
    for name, rec in rt.machines.items():
        live, routes, left_out = {}, [], 0
        if rec.up:
            try:
                live, routes, left_out = _machine_view(rt, rec.handle.netns())
            except (OSError, netlink.NetlinkError, ValueError, struct.error):  # a machine's kernel that
                pass  # cannot be read (or is made unreadable) shows what lab.conf says: the rest still shows
        ifaces = []
        for num, iface in sorted(rec.machine.interfaces.items()):
            seen = live.get(iface.name, {})
            ifaces.append(InterfaceView(iface.name, iface.link, seen.get("mac") or rt.mac(rec.machine, iface),
                                        sorted(a for a in seen.get("addresses", []) if not a.startswith("fe80"))))
        image = rec.machine.options.image or "" if rec.backend == "podman" else ""
        machines.append(MachineView(name, rec.state, rec.detail, ifaces, routes, image, left_out))
    return Topology.of(rt.lab.name, machines)
