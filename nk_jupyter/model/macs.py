"""Netkit's deterministic MAC addresses.

The Netkit kernel patch derives each interface's address from SHA-1(umid + ifname), where
umid is the machine name: byte i = (h[i] + h[i+6]) mod 256 for i in 0..5, then the
multicast bit is cleared and the locally-administered bit set. Labs (ARP exercises,
signatures) may depend on these exact values.
"""
from __future__ import annotations

try:  # CPython's own SHA-1: hashlib would load OpenSSL (~2 ms of every lab start) for it
    from _sha1 import sha1
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import sha1


def netkit_mac(machine: str, ifname: str) -> str:
    """The address Netkit gives interface `ifname` ("eth0") of `machine`, as "aa:bb:..."."""
    h = sha1((machine + ifname).encode()).digest()
    octets = [(h[i] + h[i + 6]) % 256 for i in range(6)]
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in octets)
