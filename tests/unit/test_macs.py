"""Netkit's deterministic MAC rule."""
from __future__ import annotations

import hashlib

from nk_jupyter.model.macs import netkit_mac


def test_known_value_worked_by_hand() -> None:
    # sha1("pc1eth0") = 92 43 45 53 47 d2 | dd 1c 53 e4 c5 35 ...
    digest = "9243455347d2dd1c53e4c5359a90f506b21636de"
    assert hashlib.sha1(b"pc1eth0").hexdigest() == digest
    # byte i = h[i] + h[i+6] mod 256:
    #   92+dd=16f->6f  43+1c=5f  45+53=98  53+e4=137->37  47+c5=10c->0c  d2+35=107->07
    # then 0x6f: clear the multicast bit (-> 6e), set the local bit (already set) -> 6e
    assert netkit_mac("pc1", "eth0") == "6e:5f:98:37:0c:07"


def test_second_known_value() -> None:
    # sha1("r1eth1") = 74 90 87 3d a0 37 | 86 4e 55 f3 f6 20 ...; 74+86 = fa (bits already right)
    assert netkit_mac("r1", "eth1") == "fa:de:dc:30:96:57"


def test_same_rule_reimplemented() -> None:
    for machine in ("a", "pc1", "router-10", "x_y"):
        for ifname in ("eth0", "eth1", "eth39"):
            h = hashlib.sha1((machine + ifname).encode()).digest()
            octets = [(h[i] + h[i + 6]) % 256 for i in range(6)]
            octets[0] = (octets[0] & 0xFE) | 0x02
            assert netkit_mac(machine, ifname) == ":".join(f"{o:02x}" for o in octets)


def test_bits_format_and_determinism() -> None:
    seen = set()
    for n in range(200):
        mac = netkit_mac(f"pc{n}", "eth0")
        first = int(mac[:2], 16)
        assert first & 0x01 == 0, "multicast bit must be clear"
        assert first & 0x02 == 0x02, "locally administered bit must be set"
        assert mac == mac.lower() and len(mac) == 17 and mac.count(":") == 5
        assert netkit_mac(f"pc{n}", "eth0") == mac
        seen.add(mac)
    assert len(seen) == 200
    assert netkit_mac("pc1", "eth0") != netkit_mac("pc1", "eth1")
