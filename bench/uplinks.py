"""Uplink, published-port and capture throughput, in one run.

    python bench/uplinks.py [SECONDS]

- tapout: iperf3 from a bridged machine to an iperf3 server on the host's 127.0.0.1, through
  the driver's host-loopback mapping (--host-loopback), up (machine -> host) and down (-R),
  for each installed driver at MTU 1500 and 65520;
- ports: iperf3 from the host to a server in a machine through a published port, both ways;
- vdump: while two machines run iperf3 at line rate, `Lab.capture(snaplen=128)`: frames
  received, frames tcpdump says the kernel dropped, and the delay from a frame's capture
  timestamp to its arrival in this process (median, p99) for pings sent meanwhile.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import emit

sys.path.append(str(Path(__file__).resolve().parents[1]))  # (after the installed nk_jupyter)
from tests.net import free_port  # noqa: E402

from nk_jupyter import Lab, pcap
from nk_jupyter.model.uplinks import UplinkOptions


def gbits(text: str) -> float:
    return round(json.loads(text)["end"]["sum_received"]["bits_per_second"] / 1e9, 2)


def tapout(driver: str, mtu: int, secs: int) -> dict:
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL)
    lab = Lab.from_text("pc1[0]=A\npc1[bridged]=true\n", name=f"bench-up-{driver}-{mtu}")
    try:
        lab.start(uplinks=UplinkOptions(driver=driver, host_loopback=True, mtu=mtu))
        time.sleep(0.3)
        out = {}
        for way, flag in (("up", ""), ("down", "-R")):
            r = lab.run("pc1", f"iperf3 -c 10.0.2.2 -p {port} -t {secs} -J {flag}", timeout=secs + 30)
            out[way] = gbits(r.stdout) if r.ok else f"failed: {r.stderr.strip()[:100] or r.stdout[-200:]}"
        return out
    finally:
        lab.crash()
        lab.clean()
        server.kill()


def ports(secs: int) -> dict:
    port = free_port()
    lab = Lab.from_text(f'pc1[0]=A\npc1[port]="{port}:5201"\n', {"pc1.startup": "iperf3 -s -D\n"}, name="bench-port")
    try:
        lab.start()
        time.sleep(0.3)
        out = {}
        for way, flag in (("host_to_machine", []), ("machine_to_host", ["-R"])):
            r = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs), "-J", *flag],
                               capture_output=True, text=True, timeout=secs + 30)
            out[way] = gbits(r.stdout)
        return out
    finally:
        lab.crash()
        lab.clean()


def capture(secs: int) -> dict:
    lab = Lab.from_text("a[0]=A\nb[0]=A\n", {"a.startup": "ip addr add 10.0.0.1/24 dev eth0\n",
                                              "b.startup": "ip addr add 10.0.0.2/24 dev eth0\niperf3 -s -D\n"},
                        name="bench-vdump")
    try:
        lab.start()
        time.sleep(0.3)
        stream = lab.capture("A", snaplen=128)
        delays, frames, err = [], [0], []

        def read():
            for packet in pcap.read(stream.stdout(err)):
                frames[0] += 1
                if b"\x08\x00" == packet.data[12:14] and len(packet.data) > 34 and packet.data[23] == 1:
                    delays.append(time.time() - packet.time)
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)
        load = threading.Thread(target=lambda: lab.run("a", f"iperf3 -c 10.0.0.2 -t {secs} -J", timeout=secs + 30))
        load.start()
        lab.run("b", f"ping -c {secs * 20} -i 0.05 -q 10.0.0.1", timeout=secs + 30)
        load.join()
        time.sleep(0.3)
        stream.signal("INT")
        reader.join(timeout=10)
        said = b"".join(err).decode(errors="replace")
        dropped = re.search(r"(\d+) packets? dropped by kernel", said)
        delays.sort()
        return {"frames": frames[0], "kernel_dropped": int(dropped.group(1)) if dropped else None,
                "icmp_seen": len(delays),
                "delay_ms_median": round(statistics.median(delays) * 1000, 2) if delays else None,
                "delay_ms_p99": round(delays[int(len(delays) * 0.99) - 1] * 1000, 2) if delays else None}
    finally:
        lab.crash()
        lab.clean()


def main(secs: int = 3) -> None:
    drivers = [d for d in ("slirp4netns", "pasta") if shutil.which(d)]
    emit({"bench": "uplinks", "seconds": secs,
          "tapout_gbit_s": {f"{d}@{mtu}": tapout(d, mtu, secs) for d in drivers for mtu in (1500, 65520)},
          "ports_gbit_s": ports(secs), "vdump": capture(secs)})


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
