"""Mininet (Debian package, needs root) building N hosts on Linux bridges, 10 per switch.
Timed from creating the Mininet object (addHost starts each host's shell) to the last address.

    sudo python3 bench/mininet_boot.py 100 500 1000

Mirrors bench/boot.py's labs: N hosts, one collision domain (a LinuxBridge switch) per
10 hosts, no controller, each host given an address; timed from build() to the last
address, then stop().
"""
from __future__ import annotations

import json
import sys
import time


def run(n: int) -> dict:
    from mininet.net import Mininet
    from mininet.nodelib import LinuxBridge
    from mininet.clean import cleanup
    cleanup()
    t0 = time.perf_counter()
    net = Mininet(switch=LinuxBridge, controller=None, build=False, autoSetMacs=False)
    switches = [net.addSwitch(f"s{i}") for i in range((n + 9) // 10)]
    for i in range(n):
        h = net.addHost(f"h{i}", ip=None)
        net.addLink(h, switches[i // 10])
    net.build()
    for s in switches:
        s.start([])
    for i, h in enumerate(net.hosts):
        h.cmd(f"ip addr add 10.{i // 250}.{i % 250}.1/16 dev {h.defaultIntf()}")
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    net.stop()
    return {"bench": "mininet_boot", "hosts": n, "start_s": round(wall, 3), "per_host_ms": round(wall / n * 1000, 2),
            "stop_s": round(time.perf_counter() - t1, 3)}


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [100]:
        print(json.dumps(run(size)), flush=True)
