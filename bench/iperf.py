"""iperf3 between two machines of a lab, against a raw veth pair between two plain netns.

    python bench/iperf.py [SECONDS]

Both runs happen here, as the same user: the raw pair is built with `unshare` and `ip`
inside one throw-away user namespace (no hub); the lab path is veth -> the domain's hub -> veth
(a tc block, or a bridge with NK_DOMAIN_HUB=bridge).
"""
from __future__ import annotations

import json
import subprocess
import sys

from common import emit

from nk_jupyter import Lab

RAW = r"""
set -e
ip link add va type veth peer name vb
unshare --net sh -c 'sleep 60' & srv=$!
sleep 0.2
ip link set vb netns $srv
nsenter -t $srv -n sh -c 'ip addr add 10.9.0.2/24 dev vb; ip link set vb up; ip link set lo up; iperf3 -s -1 -D'
ip addr add 10.9.0.1/24 dev va; ip link set va up
sleep 0.5
iperf3 -c 10.9.0.2 -t {secs} -J
kill $srv
"""


def gbps(report: dict) -> float:
    return round(report["end"]["sum_received"]["bits_per_second"] / 1e9, 2)


def main(secs: int = 5) -> None:
    raw = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--mount-proc",
                          "sh", "-c", RAW.format(secs=secs)], capture_output=True, text=True, check=True)
    raw_gbps = gbps(json.loads(raw.stdout))
    lab = Lab.from_text("a[0]=L\nb[0]=L\n", {"a.startup": "ip a add 10.0.0.1/24 dev eth0\n",
                                              "b.startup": "ip a add 10.0.0.2/24 dev eth0\niperf3 -s -D\n"},
                        name="bench-iperf")
    lab.start()
    try:
        r = lab.run("a", f"iperf3 -c 10.0.0.2 -t {secs} -J").check()
        lab_gbps = gbps(r.json())
    finally:
        lab.crash()
    emit({"bench": "iperf", "seconds": secs, "raw_veth_gbps": raw_gbps, "lab_gbps": lab_gbps,
          "ratio": round(lab_gbps / raw_gbps, 3)})


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
