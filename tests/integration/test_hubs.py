"""A collision domain is a hub (linux/netlink.py): a frame from one machine reaches every other
machine of its domain, never one of another domain, and the domain keeps working when all its
machines die and come back, when it becomes a bridge for a capture or a shaping, and in
bridge-only labs (NK_DOMAIN_HUB=bridge: the kernels before 6.9, which have no tc mirred to a block)."""
from __future__ import annotations

import os
import time

import pytest

TC_HUBS = tuple(int(x) for x in os.uname().release.split(".")[:2]) >= (6, 9)  # (mirred to a block)

LAB = {
    "lab.conf": "pc1[0]=A\npc2[0]=A\npc3[0]=A\npc4[0]=B\n",
    **{f"pc{i}.startup": f"ip addr add 10.0.0.{i}/24 dev eth0\n" for i in range(1, 5)},
}


def _watch(lab, machine: str) -> None:
    """tcpdump in `machine`, in the background, for ICMP it does not take part in."""
    lab.run(machine, "(timeout 6 tcpdump -l -n -i eth0 -c 4 icmp > /tmp/seen 2>/dev/null &)")
    time.sleep(1)  # (tcpdump's socket is open)


def _seen(lab, machine: str, path: str = "/tmp/seen") -> str:
    """What the machine's tcpdump wrote to path, once it ended (its count, or its timeout)."""
    lab.run(machine, "for i in $(seq 60); do pgrep -x tcpdump >/dev/null || break; sleep 0.1; done")
    return lab.run(machine, f"cat {path}").stdout


def _check_hub(lab) -> None:
    _watch(lab, "pc3")
    ping = lab.run("pc1", "ping -c 2 -W 2 10.0.0.2")
    assert ping.status == 0, ping.stdout + ping.stderr
    assert "10.0.0.1 > 10.0.0.2: ICMP echo request" in _seen(lab, "pc3")  # a hub: unicast to every port
    assert lab.run("pc1", "ping -c 1 -W 1 10.0.0.4").status != 0  # B is another domain (same subnet)


@pytest.mark.parametrize("kind", ["auto", "bridge"])
def test_a_domain_is_a_hub_of_its_own_machines_only(make_lab, started, monkeypatch, kind):
    monkeypatch.setenv("NK_DOMAIN_HUB", kind)
    lab, result = started(make_lab(LAB))
    assert result.failed == []
    links = "".join(chunk for _, chunk in lab.hub_exec(["ip", "-br", "link", "show", "type", "bridge"]))
    assert ("nkd0" in links) == (kind == "bridge" or not TC_HUBS), links  # tc hubs where the kernel has them
    _check_hub(lab)
    # every machine of A dies and comes back: the domain's hub is made again
    lab.crash(["pc1", "pc2", "pc3"])
    again = lab.start(["pc1", "pc2", "pc3"])
    assert again.failed == [], [(m.name, m.state, m.detail) for m in lab.info()]
    _check_hub(lab)


def test_a_captured_domain_becomes_a_bridge_and_still_is_a_hub(make_lab, started, monkeypatch):
    monkeypatch.delenv("NK_DOMAIN_HUB", raising=False)
    lab, _ = started(make_lab(LAB))
    stream = lab.capture("A", count=2)
    time.sleep(1)
    assert lab.run("pc1", "ping -c 2 -W 2 10.0.0.2").status == 0
    pcap = b"".join(stream.stdout())
    assert pcap[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4") and len(pcap) > 24
    links = "".join(chunk for _, chunk in lab.hub_exec(["ip", "-br", "link", "show", "type", "bridge"]))
    assert "nkd0" in links
    _check_hub(lab)
    lab.shape("rate=50mbit", "pc4", 0)  # B becomes a bridge too; A stays one
    assert lab.run("pc4", "ping -c 1 -W 1 10.0.0.1").status != 0
    _check_hub(lab)


SHORT = ("import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0)); "
         "s.send(b'\\xff' * 6 + b'\\x02\\0\\0\\0\\0\\x01' + b'\\x88\\xb5' + b'n')")


@pytest.mark.parametrize("kind", ["auto", "bridge"])
def test_a_frame_too_short_for_any_header_still_crosses_the_hub(make_lab, started, monkeypatch, kind):
    """A hub forwards what a cable would: a 15-byte frame (an Ethernet header and one byte)."""
    monkeypatch.setenv("NK_DOMAIN_HUB", kind)
    lab, _ = started(make_lab(LAB))
    lab.run("pc2", "(timeout 5 tcpdump -n -i eth0 -c 1 ether proto 0x88b5 > /tmp/short 2>&1 &)")
    time.sleep(1)
    assert lab.run("pc1", f'python3 -c "{SHORT}"').status == 0
    assert "1 packet captured" in _seen(lab, "pc2", "/tmp/short")


def test_a_domain_whose_machines_deleted_its_ports_still_links_new_machines(make_lab, started, monkeypatch):
    """Machine root may delete its own interface, and with it the hub end: B's only port goes,
    and with it B's tc block and filter. Machines that join B later must still reach each other."""
    monkeypatch.delenv("NK_DOMAIN_HUB", raising=False)
    lab, _ = started(make_lab(LAB))
    assert lab.run("pc4", "ip link del eth0").status == 0
    time.sleep(0.5)
    for name, address in (("pc5", "10.0.1.5/24"), ("pc6", "10.0.1.6/24")):
        lab.vstart(name, {0: "B"})
        assert lab.run(name, f"ip addr add {address} dev eth0 && ip link set eth0 up").status == 0
    ping = lab.run("pc5", "ping -c 2 -W 2 10.0.1.6")
    assert ping.status == 0, ping.stdout + ping.stderr
