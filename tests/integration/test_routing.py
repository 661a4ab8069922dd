"""Static routing with net-tools and OSPF with FRR, booted as the user running the tests."""
from __future__ import annotations

import time

STATIC = {
    "lab.conf": """
        LAB_DESCRIPTION="static routing, Netkit style"
        pc1[0]="A"
        r1[0]="A"
        r1[1]="B"
        r2[0]="B"
        r2[1]="C"
        pc2[0]="C"
    """,
    "pc1.startup": "ifconfig eth0 10.0.1.10 netmask 255.255.255.0 up\nroute add default gw 10.0.1.1\n",
    "r1.startup": "ifconfig eth0 10.0.1.1/24 up\nifconfig eth1 10.0.12.1/24 up\nroute add -net 10.0.2.0/24 gw 10.0.12.2\n",
    "r2.startup": "ifconfig eth0 10.0.12.2/24 up\nifconfig eth1 10.0.2.1/24 up\nroute add -net 10.0.1.0/24 gw 10.0.12.1\n",
    "pc2.startup": "ifconfig eth0 10.0.2.10/24 up\nroute add default gw 10.0.2.1\n",
}


def test_static_routing_with_net_tools(make_lab, started):
    lab, result = started(make_lab(STATIC))
    assert result.failed == []
    r = lab.run("pc1", "ping -c 2 -W 2 10.0.2.10")
    assert r.status == 0, r.stdout + r.stderr
    assert "2 received" in r.stdout
    trace = lab.run("pc1", "traceroute -n -w 1 -q 1 10.0.2.10").stdout
    assert "10.0.1.1" in trace and "10.0.12.2" in trace
    assert lab.run("r1", "cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"


def _frr_machine(name: str, nets: list[str]) -> dict[str, str]:
    conf = [f"hostname {name}", "interface eth0", " ip ospf hello-interval 1", " ip ospf dead-interval 4",
            " ip ospf network point-to-point", "router ospf"] + [f" network {n} area 0" for n in nets]
    return {f"{name}/etc/frr/daemons": "zebra=yes\nospfd=yes\nstaticd=yes\nvtysh_enable=yes\n"
            "zebra_options=\"  -A 127.0.0.1 -s 90000000\"\nospfd_options=\"  -A 127.0.0.1\"\n"
            "staticd_options=\"-A 127.0.0.1\"\n",
            f"{name}/etc/frr/frr.conf": "\n".join(conf) + "\n"}


def test_frr_ospf_converges_and_routes(make_lab, started):
    files = {
        "lab.conf": "r1[0]=core\nr1[1]=lan1\nr2[0]=core\nr2[1]=lan2\npc1[0]=lan1\npc2[0]=lan2\n",
        "r1.startup": "ip a add 10.0.0.1/30 dev eth0\nip a add 10.1.0.1/24 dev eth1\nsystemctl start frr\n",
        "r2.startup": "ip a add 10.0.0.2/30 dev eth0\nip a add 10.2.0.1/24 dev eth1\nservice frr start\n",
        "pc1.startup": "ip a add 10.1.0.10/24 dev eth0\nip r add default via 10.1.0.1\n",
        "pc2.startup": "ip a add 10.2.0.10/24 dev eth0\nip r add default via 10.2.0.1\n",
        **_frr_machine("r1", ["10.0.0.0/30", "10.1.0.0/24"]),
        **_frr_machine("r2", ["10.0.0.0/30", "10.2.0.0/24"]),
    }
    lab, result = started(make_lab(files))
    assert result.failed == []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        routes = lab.run("r1", "ip -j route").json()
        if any(r.get("dst") == "10.2.0.0/24" and r.get("protocol") == "ospf" for r in routes):
            break
        time.sleep(0.5)
    else:
        raise AssertionError("OSPF route to 10.2.0.0/24 never appeared on r1: " + str(routes))
    neigh = lab.run("r1", "vtysh -c 'show ip ospf neighbor json'").json()
    states = [n["state"] for ns in neigh["neighbors"].values() for n in ns]
    assert states and states[0].startswith("Full")
    ps = lab.run("r1", "ps -eo user,comm").stdout
    assert "frr" in ps.split() and "ospfd" in ps
    deadline = time.monotonic() + 30  # r2 may learn the way back a moment after r1 learnt the way there
    while (r := lab.run("pc1", "ping -c 1 -W 1 10.2.0.10")).status != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert r.status == 0, r.stdout


def test_machine_options_ipv6_sysctl_env_exec(make_lab, started):
    lab, result = started(make_lab({
        "lab.conf": """
            pc1[0]=A
            pc2[0]=A
            pc1[ipv6]=true
            pc2[ipv6]=true
            pc1[sysctl]="net.ipv4.conf.eth0.rp_filter=1"
            pc1[env]="GREETING=hi"
            pc1[exec]="echo exec-ran > /root/exec.txt"
            pc3[0]=A
        """,
        "pc1.startup": "ip -6 addr add fd00::1/64 dev eth0\n",
        "pc2.startup": "ip -6 addr add fd00::2/64 dev eth0\n",
    }))
    assert result.failed == []
    assert lab.run("pc1", "ping -6 -c1 -W2 fd00::2").status == 0  # no DAD delay
    r = lab.run("pc1", "cat /proc/sys/net/ipv4/conf/eth0/rp_filter /proc/sys/net/ipv4/ip_forward; "
                       "echo $GREETING; cat /root/exec.txt")
    assert r.stdout.split() == ["1", "1", "hi", "exec-ran"]
    assert lab.run("pc3", "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6").stdout.strip() == "1"
    assert lab.run("pc3", "cat /proc/sys/net/ipv4/conf/all/rp_filter").stdout.strip() == "0"
