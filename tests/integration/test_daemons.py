"""Daemons start the way labs start them (systemctl, service, /etc/init.d) and serve."""
from __future__ import annotations

import time

import pytest

SERVER = {
    "lab.conf": "srv[0]=A\ncli[0]=A\n",
    "srv.startup": """
        ip address add 10.0.0.1/24 dev eth0
        echo '<h1>hello from srv</h1>' > /var/www/html/index.html
        systemctl start apache2
        service named start
        /etc/init.d/isc-dhcp-server start
        /etc/init.d/ssh start
        dnsmasq --port=5353 --no-resolv --address=/lab.test/10.0.0.1
    """,
    "srv/etc/default/isc-dhcp-server": 'INTERFACESv4="eth0"\nINTERFACESv6=""\n',
    "srv/etc/dhcp/dhcpd.conf": """
        default-lease-time 600;
        subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.120; }
    """,
    "srv/etc/bind/named.conf.local": 'zone "lab.test" { type master; file "/etc/bind/db.lab.test"; };\n',
    "srv/etc/bind/db.lab.test": """
        $TTL 60
        @ IN SOA ns.lab.test. root.lab.test. (1 60 60 60 60)
        @ IN NS ns.lab.test.
        ns IN A 10.0.0.1
        www IN A 10.0.0.80
    """,
    "cli.startup": "ip address add 10.0.0.2/24 dev eth0\n",
}


def _wait(lab, machine: str, command: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        r = lab.run(machine, command)
        if r.ok or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def test_services_start_and_answer(make_lab, started):
    lab, result = started(make_lab(SERVER))
    log = lab.startup_log("srv")
    assert result.failed == [], log
    procs = lab.run("srv", "ps -eo user,comm --no-headers").stdout.split()
    for user, daemon in (("www-data", "apache2"), ("bind", "named"), ("root", "dhcpd"), ("root", "sshd"),
                         ("nobody", "dnsmasq")):
        assert daemon in procs, f"{daemon} not running:\n{log}"
        assert user in procs
    http = _wait(lab, "cli", "curl -s http://10.0.0.1/")
    assert "hello from srv" in http.stdout
    dns = _wait(lab, "cli", "dig +short @10.0.0.1 www.lab.test")
    assert dns.stdout.strip() == "10.0.0.80"
    dnsmasq = lab.run("cli", "dig +short -p 5353 @10.0.0.1 any.lab.test").stdout.strip()
    assert dnsmasq == "10.0.0.1"
    ssh = lab.run("cli", "timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.0.1/22; head -c 7 <&3'")
    assert ssh.stdout.startswith("SSH-2.0"), ssh.stderr
    lease = lab.run("cli", "timeout 20 dhclient -1 -v eth0 2>&1; ip -4 -br addr show eth0").stdout
    if "dhclient: command not found" in lease:
        pytest.skip("isc-dhcp-client is not installed on this host")
    assert "10.0.0.1" in lease and "10.0.0.1" in lab.run("cli", "ip -4 -br addr show eth0").stdout


def test_quagga_lab_runs_on_frr(make_lab, started):
    ospf = ("hostname ospfd\npassword zebra\ninterface eth0\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n"
            " ip ospf network point-to-point\nrouter ospf\n network 10.0.0.0/24 area 0\n network {lan} area 0\n")
    files = {"lab.conf": 'r1[0]="A"\nr1[1]="B"\nr2[0]="A"\nr2[1]="C"\n'}
    for r, lan, a in (("r1", "10.1.0.0/24", 1), ("r2", "10.2.0.0/24", 2)):
        files[f"{r}/etc/quagga/daemons"] = "zebra=yes\nbgpd=no\nospfd=yes\nripd=no\n"
        files[f"{r}/etc/quagga/zebra.conf"] = "hostname zebra\npassword zebra\n"
        files[f"{r}/etc/quagga/ospfd.conf"] = ospf.format(lan=lan)
        files[f"{r}.startup"] = (f"ifconfig eth0 10.0.0.{a} netmask 255.255.255.0 up\n"
                                 f"ifconfig eth1 10.{a}.0.1 netmask 255.255.255.0 up\n/etc/init.d/quagga start\n")
    lab, result = started(make_lab(files))
    assert result.failed == []
    r = _wait(lab, "r1", "ip route | grep -q '10.2.0.0/24 .*proto ospf'", timeout=40)
    assert r.ok, lab.run("r1", "ip route; vtysh -c 'show ip ospf neighbor'").stdout
