"""Requests from the supervisor to the lab's host-side helper (helper.py), one schema with
the rest of nk (nk_jupyter.wire). Each carries the machine's netns descriptor where needed;
the answer is {"ok": true, ...} or {"error": "..."}."""
from __future__ import annotations

from ..records import dataclass
from typing import ClassVar


@dataclass
class UplinkUp:
    """Start the machine's uplink on IFNAME in its netns (the descriptor sent with it)."""
    OP: ClassVar[str] = "uplink"
    machine: str
    ifname: str
    driver: str
    mtu: int
    cidr: str
    host_loopback: bool
    configure: bool = True   # the driver sets address, route (Kathara's bridged); else nk does (Netkit tap)


@dataclass
class UplinkStarted:
    driver: str
    pid: int


@dataclass
class PortUp:
    """Listen on host_ip:host_port in the host's netns; connect to guest_port in the machine's."""
    OP: ClassVar[str] = "port"
    machine: str
    host_ip: str
    host_port: int
    guest_port: int
    proto: str = "tcp"


@dataclass
class PortDown:
    OP: ClassVar[str] = "unport"
    host_ip: str
    host_port: int
    proto: str = "tcp"


@dataclass
class MachineDown:
    """The machine stopped: its uplinks and ports go."""
    OP: ClassVar[str] = "down"
    machine: str


@dataclass
class Done:
    pass


REQUESTS = {cls.OP: cls for cls in (UplinkUp, PortUp, PortDown, MachineDown)}
