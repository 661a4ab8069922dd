"""Hub.snapshot (linux/netlink.py) reads a machine's links, addresses and main-table routes
with dumps of its own: it must say what pyroute2 says of the same kernel.

The network is made in a user and network namespace of the test's own (`unshare -Urn`):
a veth pair, IPv4 and IPv6 addresses, a connected, a gateway and a default route of each
family, a route in another table, a link without a MAC (lo). No packet leaves it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, socket, subprocess
def ip(*a):
    subprocess.run(["ip", *a], check=True)
with open("/proc/sys/net/ipv6/conf/all/disable_ipv6", "w") as f:
    f.write("0")
ip("link", "set", "lo", "up")
ip("link", "add", "eth0", "address", "02:00:0a:00:00:01", "type", "veth", "peer", "name", "eth1")
for name in ("eth0", "eth1"):
    with open(f"/proc/sys/net/ipv6/conf/{name}/accept_dad", "w") as f:
        f.write("0")
    ip("link", "set", name, "up")
ip("addr", "add", "10.0.0.1/24", "dev", "eth0")
ip("addr", "add", "10.9.0.1/16", "dev", "eth1")
ip("-6", "addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad")
ip("route", "add", "192.0.2.0/24", "via", "10.0.0.254", "proto", "static")
ip("route", "add", "default", "via", "10.0.0.254")
ip("route", "add", "198.51.100.0/24", "dev", "eth1", "table", "100")
ip("-6", "route", "add", "2001:db8:1::/48", "via", "2001:db8::fe")
ip("-6", "route", "add", "default", "via", "2001:db8::fe")

from nk_jupyter.linux import netlink
sock = netlink._Requests()
ours = netlink._snapshot(sock)
sock.close()

from pyroute2 import IPRoute
with IPRoute() as ipr:
    links = {l["index"]: (l.get_attr("IFLA_IFNAME"), l.get_attr("IFLA_ADDRESS") or "") for l in ipr.get_links()}
    addresses = [(a["index"], f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}") for a in ipr.get_addr()]
    routes = []
    for fam in (socket.AF_INET, socket.AF_INET6):
        for r in ipr.get_routes(family=fam, table=254):
            dst = r.get_attr("RTA_DST")
            routes.append((f"{dst}/{r['dst_len']}" if dst else "default", r.get_attr("RTA_GATEWAY"),
                           r.get_attr("RTA_OIF"), int(r["proto"])))
print(json.dumps({"ours": [ours.links, ours.addresses, ours.routes], "pyroute2": [links, addresses, routes]}))
"""


@pytest.mark.skipif(not shutil.which("unshare") or not shutil.which("ip"), reason="needs unshare and ip")
def _in_a_netns_of_its_own(script: str) -> dict:
    """Run script in a user and network namespace of its own; the JSON of its last line."""
    done = subprocess.run(["unshare", "-Urn", sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    if done.returncode and "unshare failed" in done.stderr:
        pytest.skip(f"no user namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_snapshot_says_what_pyroute2_says():
    got = _in_a_netns_of_its_own(SCRIPT)
    ours, theirs = got["ours"], got["pyroute2"]
    assert ours == theirs
    links, addresses, routes = ours
    names = {name for name, _mac in links.values()}
    assert names == {"lo", "eth0", "eth1"} and ["eth0", "02:00:0a:00:00:01"] in links.values()
    assert {"10.0.0.1/24", "10.9.0.1/16", "2001:db8::1/64", "127.0.0.1/8"} <= {a for _i, a in addresses}
    by_dst = {dst: (gw, proto) for dst, gw, _oif, proto in routes}
    assert by_dst["192.0.2.0/24"] == ("10.0.0.254", 4)  # RTPROT_STATIC
    assert by_dst["2001:db8:1::/48"][0] == "2001:db8::fe"
    assert "default" in by_dst and "10.0.0.0/24" in by_dst
    assert "198.51.100.0/24" not in by_dst  # table 100, not the main table


MANY = r"""
import json, subprocess
def ip(*a):
    subprocess.run(["ip", *a], check=True)
ip("link", "set", "lo", "up")
ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
ip("link", "set", "eth0", "up")
ip("addr", "add", "10.0.0.1/16", "dev", "eth0")
batch = "".join(f"route add 172.{16 + i // 250}.{i % 250}.0/24 via 10.0.0.254\n" for i in range(6000))
subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
total = len(subprocess.run(["ip", "-4", "-o", "route", "show", "table", "all"], capture_output=True,
                           text=True, check=True).stdout.splitlines())
from nk_jupyter.linux import netlink
sock = netlink._Requests()
first, again = netlink._snapshot(sock), netlink._snapshot(sock)
sock.close()
print(json.dumps({"total": total, "limit": netlink.DUMP_LIMIT, "routes": len(first.routes),
                  "left_out": first.left_out, "same_again": [first.links, first.addresses, first.routes,
                  first.left_out] == [again.links, again.addresses, again.routes, again.left_out]}))
"""


@pytest.mark.skipif(not shutil.which("unshare") or not shutil.which("ip"), reason="needs unshare and ip")
def test_a_machine_with_thousands_of_routes_is_read_up_to_the_limit():
    """A lab is untrusted: a machine that makes a million routes must not make each topology
    refresh parse (and hold) a million. The snapshot keeps DUMP_LIMIT answers per dump, counts
    the rest, and leaves its socket ready for the next dump."""
    got = _in_a_netns_of_its_own(MANY)
    assert got["total"] > 6000 and got["routes"] <= got["limit"] < got["total"]
    assert got["left_out"] == got["total"] - got["limit"]  # every IPv4 answer past the limit, counted
    assert got["same_again"]
