"""Reading the pcap stream of `nk vdump` / Lab.capture(): packets, and one line of text each.

Frames come from the lab's machines, so they are untrusted: they are decoded here, in
Python, by a parser that only slices bytes (no tcpdump dissectors run on them, in the lab
or on the host). Ethernet, ARP, IPv4, IPv6, ICMP, TCP, UDP; anything else is named by type.
"""
from __future__ import annotations

import ipaddress
import struct
from .records import dataclass
from typing import Iterable, Iterator

MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
          b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}
ETHER_TYPES = {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6", 0x8100: "802.1Q", 0x88CC: "LLDP", 0x8847: "MPLS"}
IP_PROTOS = {1: "ICMP", 2: "IGMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 89: "OSPF", 112: "VRRP", 132: "SCTP"}
ICMP_TYPES = {0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded", 5: "redirect"}
ICMP6_TYPES = {128: "echo request", 129: "echo reply", 133: "router solicitation", 134: "router advertisement",
               135: "neighbor solicitation", 136: "neighbor advertisement", 1: "unreachable"}


class PcapError(ValueError):
    pass


@dataclass
class Packet:
    time: float
    length: int        # on the wire
    data: bytes        # as captured (up to the snap length)

    def summary(self) -> str:
        return describe(self.data, self.length)

    def line(self) -> str:
        """What nk vdump, %vdump and the topology view print: local time, then the summary."""
        import time
        return f"{time.strftime('%H:%M:%S', time.localtime(self.time))}.{int(self.time * 1e6) % 1000000:06d} " \
               f"{self.summary()}"


def read(chunks: Iterable[bytes]) -> Iterator[Packet]:
    """Packets from a pcap byte stream given in chunks of any size."""
    buf = bytearray()
    endian = scale = None
    for chunk in chunks:
        buf += chunk
        if endian is None:
            if len(buf) < 24:
                continue
            if bytes(buf[:4]) not in MAGICS:
                raise PcapError("not a pcap stream (bad magic number)")
            endian, scale = MAGICS[bytes(buf[:4])]
            del buf[:24]
        while len(buf) >= 16:
            sec, frac, incl, orig = struct.unpack(endian + "IIII", buf[:16])
            if incl > 1 << 18:
                raise PcapError(f"pcap record of {incl} bytes: the stream is damaged")
            if len(buf) < 16 + incl:
                break
            yield Packet(sec + frac * scale, orig, bytes(buf[16:16 + incl]))
            del buf[:16 + incl]


def lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """One line of text per frame of a pcap byte stream (Packet.line)."""
    for packet in read(chunks):
        yield packet.line()


def notes(stderr: list[bytes]) -> list[str]:
    """What a capture said on stderr, without the capturing tool's routine lines
    ("listening on ...", the packet counts)."""
    said = b"".join(stderr).decode(errors="replace")
    return [line for line in said.splitlines()
            if line.strip() and "listening on" not in line and "packets" not in line]


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def describe(frame: bytes, length: int | None = None) -> str:
    """One line: MACs, then what the frame carries."""
    length = len(frame) if length is None else length
    if len(frame) < 14:
        return f"runt frame, {length} bytes"
    dst, src = _mac(frame[0:6]), _mac(frame[6:12])
    etype = struct.unpack("!H", frame[12:14])[0]
    body = frame[14:]
    head = f"{src} > {dst}"
    try:
        if etype == 0x0806 and len(body) >= 28:
            op = struct.unpack("!H", body[6:8])[0]
            spa, tpa = ipaddress.IPv4Address(body[14:18]), ipaddress.IPv4Address(body[24:28])
            what = f"ARP who-has {tpa} tell {spa}" if op == 1 else f"ARP reply {spa} is-at {_mac(body[8:14])}"
            return f"{head}, {what}, length {length}"
        if etype == 0x0800 and len(body) >= 20:
            ihl = (body[0] & 0x0F) * 4
            proto, ttl = body[9], body[8]
            s, d = ipaddress.IPv4Address(body[12:16]), ipaddress.IPv4Address(body[16:20])
            return f"{head}, IPv4 {_l4(proto, body[ihl:], s, d)}, ttl {ttl}, length {length}"
        if etype == 0x86DD and len(body) >= 40:
            proto = body[6]
            s, d = ipaddress.IPv6Address(body[8:24]), ipaddress.IPv6Address(body[24:40])
            return f"{head}, IPv6 {_l4(proto, body[40:], s, d)}, length {length}"
    except (struct.error, ValueError, IndexError):
        pass
    name = ETHER_TYPES.get(etype, f"ethertype 0x{etype:04x}") if etype >= 0x600 else "802.3/LLC"
    return f"{head}, {name}, length {length}"


def _l4(proto: int, data: bytes, s, d) -> str:
    if proto in (6, 17) and len(data) >= 4:
        sport, dport = struct.unpack("!HH", data[:4])
        extra = ""
        if proto == 6 and len(data) >= 14:
            flags = data[13]
            extra = " [" + "".join(c for bit, c in ((1, "F"), (2, "S"), (4, "R"), (8, "P"), (16, "."))
                                   if flags & bit) + "]"
        return f"{s}.{sport} > {d}.{dport}: {IP_PROTOS[proto]}{extra}"
    if proto in (1, 58) and data:
        types = ICMP_TYPES if proto == 1 else ICMP6_TYPES
        return f"{s} > {d}: {IP_PROTOS[proto]} {types.get(data[0], f'type {data[0]}')}"
    return f"{s} > {d}: {IP_PROTOS.get(proto, f'protocol {proto}')}"


__all__ = ["Packet", "PcapError", "read", "describe"]
