"""A machine's ways out of the lab: an uplink to the host's network, published ports.

    m[bridged]=true                   Kathara: one more interface, eth{last+1}, on user-mode
                                      networking (10.0.2.100/24 via 10.0.2.2, DNS 10.0.2.3)
    m[0]=tap,TAP_ADDR,GUEST_ADDR      Netkit: ethN is the uplink, GUEST_ADDR/24 on it; TAP_ADDR
                                      is the host (Netkit-JH: DOMAIN,TAP_ADDR,GUEST_ADDR)
    m[port]="[HOSTIP:]HOSTPORT:GUESTPORT[/tcp]"   HOSTPORT on the host (127.0.0.1 unless HOSTIP)
                                      reaches GUESTPORT on the machine's 127.0.0.1
    m[port]="GUEST"                   Kathara's short form: host port 3000
"""
from __future__ import annotations

import ipaddress
from ..records import dataclass
from ..text import LazyPattern

KATHARA_HOST_PORT = 3000
PROTOCOLS = ("tcp", "udp", "sctp")
SUPPORTED_PROTOCOLS = ("tcp",)
UPLINK_CIDR = "10.0.2.0/24"       # slirp4netns' and Kathara-on-Docker's view: guest .100, gateway .2, DNS .3
DEFAULT_MTU = 65520
_PORT = LazyPattern(r"(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9]+\.[0-9.]+):)?(?:(?P<host>[0-9]{1,5}):)?(?P<guest>[0-9]{1,5})"
                    r"(?:/(?P<proto>[a-z]+))?")


class SpecError(ValueError):
    pass


DRIVERS = ("auto", "slirp4netns", "pasta")


@dataclass(frozen=True)
class UplinkOptions:
    """How a lab's uplinks are made (nk lstart --net-driver, --host-loopback, --uplink-mtu, --uplink-cidr)."""
    driver: str = "auto"            # auto: slirp4netns if installed, else pasta
    host_loopback: bool = False     # may a machine reach the host's 127.0.0.1 (at the gateway, .2)?
    mtu: int = DEFAULT_MTU
    cidr: str = UPLINK_CIDR          # of Kathara's bridged interface (Netkit taps bring their own /24)

    def check(self) -> "UplinkOptions":
        if self.driver not in DRIVERS:
            raise SpecError(f"uplink driver {self.driver!r} is not supported; supported: {', '.join(DRIVERS)}")
        if not 1280 <= int(self.mtu) <= 65520:
            raise SpecError(f"uplink MTU {self.mtu}: use 1280 to 65520")
        try:
            net = ipaddress.IPv4Network(self.cidr)
        except ValueError:
            raise SpecError(f"uplink CIDR {self.cidr!r} is not an IPv4 network (e.g. 10.0.2.0/24)") from None
        if net.prefixlen > 25:
            raise SpecError(f"uplink CIDR {self.cidr!r}: use a /25 or larger (the machine is .100)")
        return self


@dataclass(frozen=True)
class PortSpec:
    """A published port: host_ip:host_port on the host -> guest_port on the machine (RootlessKit's PortSpec)."""
    host_port: int
    guest_port: int
    proto: str = "tcp"
    host_ip: str = "127.0.0.1"

    @classmethod
    def parse(cls, text: str) -> "PortSpec":
        m = _PORT.fullmatch(text.strip())
        if not m:
            raise SpecError(f"expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp] (or GUESTPORT), not {text!r}")
        host = int(m.group("host")) if m.group("host") else KATHARA_HOST_PORT
        if m.group("ip") and not m.group("host"):  # "8080:80": HOST:GUEST, not IP:GUEST
            raise SpecError(f"expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], not {text!r}")
        guest = int(m.group("guest"))
        proto = m.group("proto") or "tcp"
        if proto not in PROTOCOLS:
            raise SpecError(f"protocol {proto!r}: use tcp, udp or sctp")
        if not (0 < host < 65536 and 0 < guest < 65536):
            raise SpecError(f"ports are 1-65535, not {text!r}")
        ip = (m.group("ip") or "127.0.0.1").strip("[]")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise SpecError(f"{ip!r} is not an IP address (in {text!r})") from None
        return cls(host, guest, proto, ip)

    def __str__(self) -> str:
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"{ip}:{self.host_port}:{self.guest_port}/{self.proto}"

    @property
    def key(self) -> str:
        """What identifies it on the host: address, port, protocol."""
        return f"{self.host_ip}:{self.host_port}/{self.proto}"


@dataclass(frozen=True)
class TapSpec:
    """Netkit's tap interface: ethN is an uplink, GUEST on it, the host reached at TAP."""
    ifnum: int
    tap: str
    guest: str

    @classmethod
    def parse(cls, ifnum: int, value: str) -> "TapSpec":
        parts = value.split(",")
        if len(parts) != 3:
            raise SpecError(f"a tap interface is tap,TAP_ADDR,GUEST_ADDR, not {value!r}")
        try:
            tap, guest = ipaddress.IPv4Address(parts[1]), ipaddress.IPv4Address(parts[2])
        except ValueError:
            raise SpecError(f"a tap interface is tap,TAP_ADDR,GUEST_ADDR with IPv4 addresses, not {value!r}") from None
        if ipaddress.ip_network(f"{tap}/24", strict=False) != ipaddress.ip_network(f"{guest}/24", strict=False):
            raise SpecError(f"TAP_ADDR and GUEST_ADDR must be in one /24, not {value!r}")
        if tap == guest:
            raise SpecError(f"TAP_ADDR and GUEST_ADDR must differ, not {value!r}")
        return cls(ifnum, str(tap), str(guest))

    @property
    def network(self) -> str:
        return str(ipaddress.ip_network(f"{self.guest}/24", strict=False))


__all__ = ["UplinkOptions", "DRIVERS", "PortSpec", "TapSpec", "SpecError", "UPLINK_CIDR", "DEFAULT_MTU", "SUPPORTED_PROTOCOLS"]
