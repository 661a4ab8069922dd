"""Uplinks and published ports: a machine's ways out of the lab (model/uplinks.py says the
lab.conf side).

    helper.py     the lab's host-side helper (RootlessKit's parent half): root of the lab's
                  user namespace in the host's network namespace; runs the drivers, listens
                  on published ports
    drivers.py    uplink drivers behind one small interface: slirp4netns, pasta
    messages.py   what the supervisor asks of the helper

The engine uses Uplinks (below), in the supervisor: when a machine's netns exists it asks
for that machine's uplinks (Kathara's bridged eth{last+1}, Netkit taps) and ports; when the
machine stops, they go. preflight() runs on the host side before a lab starts, so a missing
driver, an unusable /dev/net/tun or a port in use is an error naming the fix, and nothing
has started.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
from ..records import dataclass, field

from .. import wire
from ..errors import HostSetupError, UserError
from ..model import Lab, Machine
from ..model.uplinks import PortSpec, TapSpec, UplinkOptions
from . import drivers, messages as m

TUN = "/dev/net/tun"
MAX_UPLINKS = 64    # per lab: each is a driver process of the user's
MAX_PORTS = 256     # per lab


def lab_may_bind(spec: PortSpec) -> bool:
    """A lab folder is untrusted: its own port= lines may publish on the host's loopback only.
    Another host address (0.0.0.0 ...) is the user's choice: nk port add / Lab.publish."""
    return ipaddress.ip_address(spec.host_ip).is_loopback


def bridged_ifnum(machine: Machine) -> int:
    """Kathara's bridged interface: one after the last (domain or tap) interface."""
    used = list(machine.interfaces) + list(machine.options.taps)
    return max(used) + 1 if used else 0


def wants_uplink(machine: Machine) -> bool:
    return bool(machine.options.bridged or machine.options.taps)


def preflight(lab: Lab, options: UplinkOptions) -> None:
    """Host side, before anything starts: what the lab's uplinks and ports need."""
    try:
        options.check()
    except ValueError as e:
        raise UserError(str(e)) from None
    need = [m.name for m in lab.machines.values() if wants_uplink(m)]
    if need:
        try:
            drivers.choose(options.driver)
        except drivers.UplinkError as e:
            raise HostSetupError(f"machine(s) {', '.join(need)} have an uplink (bridged or tap): {e}") from None
        try:
            os.close(os.open(TUN, os.O_RDWR))
        except OSError as e:
            fix = ("sudo chmod 666 /dev/net/tun (most distributions' udev makes it so)" if e.errno in (errno.EACCES, errno.EPERM)
                   else "load the tun module: sudo modprobe tun")
            raise HostSetupError(f"machine(s) {', '.join(need)} have an uplink (bridged or tap), which needs "
                                 f"{TUN}: {e.strerror}; fix: {fix}") from None
    seen: dict[str, str] = {}
    for machine in lab.machines.values():
        for spec in machine.options.ports:
            if spec.key in seen:
                raise UserError(f"port {spec.key} is published twice ({seen[spec.key]} and {machine.name})")
            seen[spec.key] = machine.name
            if spec.proto != "tcp" or not lab_may_bind(spec):
                continue  # said as a warning when the machine starts
            probe(spec, machine.name)


def probe(spec: PortSpec, machine: str) -> None:
    """Bind the host port for a moment: in use, not allowed, not an address here -> UserError now."""
    from .helper import port_error
    s = socket.socket(socket.AF_INET6 if ":" in spec.host_ip else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((spec.host_ip, spec.host_port))
    except OSError as e:
        raise UserError(f"{machine}: {port_error(spec.host_ip, spec.host_port, spec.proto, e)}") from None
    finally:
        s.close()


@dataclass
class Published:
    machine: str
    spec: PortSpec


@dataclass
class Uplinks:
    """The supervisor's side: talks to the helper; knows what is published."""
    sock: socket.socket
    options: UplinkOptions
    hub: object                 # linux.netlink.Hub: configures Netkit taps inside machines
    ports: dict[str, Published] = field(default_factory=dict)   # PortSpec.key -> Published
    uplinks: dict[str, list[str]] = field(default_factory=dict)  # machine -> [ethN] with an uplink
    said: bool = False                                           # the note on what an uplink reaches

    def _ask(self, request, fds: list[int] = (), reply=m.Done):
        frame = {"op": request.OP, **wire.encode(request)}
        wire.send(self.sock, frame, fds)
        answer, got = wire.recv(self.sock)
        for fd in got:
            os.close(fd)
        if "error" in answer:
            raise UserError(str(answer["error"]))
        return wire.decode(reply, {k: v for k, v in answer.items() if k != "ok"}, "helper reply")

    # -- when a machine's netns exists --------------------------------------------
    def machine_up(self, machine: Machine, netns: int) -> list[str]:
        """Its uplinks and lab.conf ports; returns warnings (the machine runs without what failed)."""
        warnings = []
        jobs: list[tuple[str, TapSpec | None]] = [(f"eth{n}", tap) for n, tap in sorted(machine.options.taps.items())]
        if machine.options.bridged:
            jobs.append((f"eth{bridged_ifnum(machine)}", None))
        for ifname, tap in jobs:
            try:
                self.uplink(machine.name, netns, ifname, tap)
            except UserError as e:
                warnings.append(f"no uplink on {ifname}: {e}")
                continue
            if not self.said:
                self.said = True
                loopback = ("and the host's 127.0.0.1 (--host-loopback)" if self.options.host_loopback
                            else "but not the host's 127.0.0.1")
                warnings.append(f"{ifname} is an uplink ({'tap' if tap else 'bridged'}): this lab's machines with one "
                                f"reach every network this host reaches, as this user, {loopback}")
        for spec in machine.options.ports:
            if not lab_may_bind(spec):
                warnings.append(f"port {spec} is not published: a lab may publish ports on the host's loopback "
                                f"only; to expose it on {spec.host_ip}: nk port add {machine.name} {spec}")
                continue
            try:
                self.publish(machine.name, netns, spec)
            except UserError as e:
                warnings.append(str(e))
        return warnings

    def uplink(self, name: str, netns: int, ifname: str, tap: TapSpec | None) -> None:
        if sum(len(v) for v in self.uplinks.values()) >= MAX_UPLINKS:
            raise UserError(f"the lab already has {MAX_UPLINKS} uplinks, the most nk starts (one process each)")
        cidr = str(tap_network(tap, self.options)) if tap else self.options.cidr
        self._ask(m.UplinkUp(name, ifname, self.options.driver, int(self.options.mtu), cidr,
                             self.options.host_loopback, configure=tap is None), [netns], m.UplinkStarted)
        self.uplinks.setdefault(name, []).append(ifname)
        if tap:
            try:
                _configure_tap(self.hub, netns, ifname, tap, tap_network(tap, self.options),
                               first=min(self.uplinks[name]) == ifname)
            except OSError as e:
                raise UserError(f"cannot configure the tap {ifname}: {e.strerror or e}") from None

    def publish(self, name: str, netns: int, spec: PortSpec) -> None:
        if spec.key in self.ports:
            raise UserError(f"port {spec.key} is already published to {self.ports[spec.key].machine}")
        if spec.proto != "tcp":
            raise UserError(f"port {spec}: only tcp ports can be published (nk has no {spec.proto} forwarder)")
        if len(self.ports) >= MAX_PORTS:
            raise UserError(f"the lab already publishes {MAX_PORTS} ports, the most nk allows")
        # (the helper binds it on the host: in use, not allowed or not an address there is its error)
        self._ask(m.PortUp(name, spec.host_ip, spec.host_port, spec.guest_port, spec.proto), [netns])
        self.ports[spec.key] = Published(name, spec)

    def unpublish(self, spec: PortSpec) -> None:
        if spec.key not in self.ports:
            known = ", ".join(sorted(self.ports)) or "none"
            raise UserError(f"port {spec.key} is not published (published: {known})")
        self._ask(m.PortDown(spec.host_ip, spec.host_port, spec.proto))
        del self.ports[spec.key]

    def machine_down(self, name: str) -> None:
        if name in self.uplinks or any(p.machine == name for p in self.ports.values()):
            try:
                self._ask(m.MachineDown(name))
            except (UserError, OSError, EOFError):
                pass
            self.uplinks.pop(name, None)
            for key in [k for k, p in self.ports.items() if p.machine == name]:
                del self.ports[key]


def tap_network(tap: TapSpec, options: UplinkOptions) -> ipaddress.IPv4Network:
    """The driver's own network behind a Netkit tap (gateway .2, DNS .3): the uplink CIDR,
    unless the tap's /24 overlaps it (the lab's GUEST_ADDR may well be .2)."""
    mine = ipaddress.IPv4Network(tap.network)
    for candidate in (options.cidr, "10.0.2.0/24", "10.0.3.0/24", "172.31.254.0/24"):
        net = ipaddress.IPv4Network(candidate)
        if not net.overlaps(mine):
            return net
    return ipaddress.IPv4Network("192.168.254.0/24")


def _configure_tap(hub, netns: int, ifname: str, tap: TapSpec, behind: ipaddress.IPv4Network, first: bool) -> None:
    """Netkit's tap: GUEST/24 on ethN; the driver's network on the same link, and (first tap)
    the default route via its gateway; TAP_ADDR is the host: nftables in the machine's netns
    (table nk_tap) sends what goes to TAP_ADDR to the driver's gateway."""
    gateway = str(behind.network_address + 2)
    hub.address(netns, ifname, f"{tap.guest}/24", gateway if first else None, on_link=str(behind))
    hub.nft(netns=netns, rules=f"table ip nk_tap {{\n chain out {{ type nat hook output priority -100; "
                               f"ip daddr {tap.tap} dnat to {gateway}; }}\n"
                               f" chain pre {{ type nat hook prerouting priority -100; "
                               f"ip daddr {tap.tap} dnat to {gateway}; }}\n}}\n")


def nameserver(machine: Machine, options: UplinkOptions) -> str:
    """The DNS address a machine with an uplink gets in /etc/resolv.conf ("" without one)."""
    if machine.options.taps:
        first = machine.options.taps[min(machine.options.taps)]
        return str(tap_network(first, options).network_address + 3)
    if machine.options.bridged:
        return str(ipaddress.IPv4Network(options.cidr).network_address + 3)
    return ""


__all__ = ["Uplinks", "preflight", "probe", "bridged_ifnum", "wants_uplink", "nameserver"]
