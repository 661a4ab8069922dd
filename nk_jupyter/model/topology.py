"""A lab's topology: machines (state, interfaces, addresses, routes) and collision domains.

One type for the engine (which fills in what the kernel says), the API (which returns it,
from lab.conf when the lab is stopped) and the topology widget.
"""
from __future__ import annotations

from ..records import dataclass, field

from .lab import Lab
from .macs import netkit_mac
from .states import MachineState


@dataclass
class InterfaceView:
    name: str                 # eth0
    domain: str               # its collision domain
    mac: str = ""
    addresses: list[str] = field(default_factory=list)  # CIDR, link-local ones left out


@dataclass
class RouteView:
    dst: str                  # CIDR or "default"
    gateway: str | None = None
    dev: str | None = None
    proto: int = 0            # the kernel's RTPROT_* number (2 kernel, 4 static, 188 ospf ...)


@dataclass
class MachineView:
    name: str
    state: MachineState = MachineState.DEFINED
    detail: str = ""
    interfaces: list[InterfaceView] = field(default_factory=list)
    routes: list[RouteView] = field(default_factory=list)
    image: str = ""           # the container image its files come from ("" for host programs)
    left_out: int = 0         # links, addresses and routes of its kernel past the snapshot's limit

    @property
    def router(self) -> bool:
        """Drawn as a router: it has more than one interface."""
        return len(self.interfaces) > 1


@dataclass
class DomainView:
    name: str
    members: list[str] = field(default_factory=list)   # "pc1:eth0", sorted


@dataclass
class Topology:
    lab: str
    machines: list[MachineView] = field(default_factory=list)
    domains: list[DomainView] = field(default_factory=list)

    def machine(self, name: str) -> MachineView | None:
        return next((m for m in self.machines if m.name == name), None)

    @classmethod
    def of(cls, lab: str, machines: list[MachineView]) -> "Topology":
        """A topology whose domains are those the machines' interfaces name."""
        members: dict[str, list[str]] = {}
        for m in machines:
            for i in m.interfaces:
                members.setdefault(i.domain, []).append(f"{m.name}:{i.name}")
        return cls(lab, machines, [DomainView(d, sorted(ms)) for d, ms in sorted(members.items())])

    @classmethod
    def from_lab(cls, lab: Lab) -> "Topology":
        """What lab.conf says (every machine defined, no addresses yet)."""
        machines = [MachineView(m.name, interfaces=[InterfaceView(i.name, i.link, i.mac or netkit_mac(m.name, i.name))
                                                    for _, i in sorted(m.interfaces.items())],
                                image=m.options.image or "")
                    for m in lab.machines.values()]
        return cls.of(lab.name, machines)


__all__ = ["Topology", "MachineView", "InterfaceView", "RouteView", "DomainView"]
