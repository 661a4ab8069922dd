"""Labs in the patterns of public Kathara and Netkit labs run unchanged (issue #8).

Each lab here is written the way Kathara-Labs, netkit-jh and course labs write theirs
(machine folders over /, per-daemon FRR files, Quagga-era configs, init scripts of old
Debian), and each test checks the behaviour end to end as an ordinary user.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from nk_jupyter import Lab

from ..conftest import nk


def _wait(lab, machine: str, command: str, timeout: float = 30, want=None):
    deadline = time.monotonic() + timeout
    while True:
        r = lab.run(machine, command)
        if (r.ok and (want is None or want in r.stdout)) or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def _has(*programs: str) -> str | None:
    missing = [p for p in programs if not shutil.which(p) and not Path(p).exists()]
    return f"the host lacks {', '.join(missing)} (scripts/lab-packages.txt installs it)" if missing else None


def test_a_cgi_app_under_usr_lib_cgi_bin_is_served_by_apache(make_lab, started):
    lab, result = started(make_lab({
        "lab.conf": "web[0]=A\ncli[0]=A\n",
        "web/usr/lib/cgi-bin/hello": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\necho \"cgi says $QUERY_STRING\"\n",
        "web.startup": "ip addr add 10.0.0.1/24 dev eth0\nchmod +x /usr/lib/cgi-bin/hello\na2enmod cgi >/dev/null\n"
                       "systemctl start apache2\n",
        "cli.startup": "ip addr add 10.0.0.2/24 dev eth0\n",
    }))
    assert not result.startups, result.startups
    r = _wait(lab, "cli", "curl -s 'http://10.0.0.1/cgi-bin/hello?x=1'", want="cgi says")
    assert r.stdout.strip() == "cgi says x=1", r
    assert not Path("/usr/lib/cgi-bin/hello").exists()  # the host's /usr is untouched


def test_a_unit_file_of_a_machine_folder_runs_with_systemctl(make_lab):
    folder = make_lab({
        "lab.conf": "pc1[0]=A\n",
        "pc1/etc/systemd/system/echoer.service": """
            [Unit]
            Description=Lab echo server
            [Service]
            Type=simple
            Environment=PORT=7000
            EnvironmentFile=-/etc/default/echoer
            WorkingDirectory=/srv
            ExecStartPre=/bin/sh -c 'echo starting > /srv/pre'
            ExecStart=/usr/bin/python3 -m http.server $PORT
            ExecStop=/bin/sh -c 'echo stopped > /srv/stop'
            [Install]
            WantedBy=multi-user.target
        """,
        "pc1/etc/default/echoer": "PORT=7001\n",
        "pc1/srv/index.html": "unit served\n",
        "pc1.startup": "systemctl start echoer && systemctl enable echoer\n",
    })
    assert nk("lstart", "-d", str(folder)).returncode == 0
    from nk_jupyter import Lab
    lab = Lab.attach(folder)
    try:
        status = lab.run("pc1", "systemctl status echoer")
        assert status.status == 0 and "active (running)" in status.stdout, status.stdout
        assert _wait(lab, "pc1", "curl -s http://127.0.0.1:7001/", want="unit served").ok
        assert lab.run("pc1", "systemctl is-enabled echoer").stdout.strip() == "enabled"
        lab.run("pc1", "systemctl stop echoer").check()
        assert lab.run("pc1", "systemctl is-active echoer").stdout.strip() == "inactive"
        assert lab.run("pc1", "cat /srv/stop").stdout == "stopped\n"
        assert lab.run("pc1", "curl -s -m 2 http://127.0.0.1:7001/").status != 0
        lab.run("pc1", "systemctl start echoer").check()
        lab.halt()
        # enabled: it runs again at the next boot, with no startup doing it
        (folder / "pc1.startup").write_text("true\n")
        assert nk("lstart", "-d", str(folder)).returncode == 0
        assert _wait(lab, "pc1", "curl -s http://127.0.0.1:7001/", want="unit served").ok
        assert lab.run("pc1", "systemctl is-active echoer").stdout.strip() == "active"
    finally:
        nk("lcrash", "-d", str(folder))


@pytest.mark.skipif(_has("radvd") is not None, reason=_has("radvd") or "")
def test_ipv6_slaac_with_radvd(make_lab, started):
    lab, result = started(make_lab({
        "lab.conf": 'r1[0]=A\nr1[ipv6]="True"\npc1[0]=A\npc1[ipv6]="True"\n'
                    'pc1[sysctl]="net.ipv6.conf.eth0.accept_ra=2"\npc1[sysctl]="net.ipv6.conf.eth0.autoconf=1"\n',
        "r1/etc/radvd.conf": """
            interface eth0 {
              AdvSendAdvert on;
              MinRtrAdvInterval 3;
              MaxRtrAdvInterval 4;
              prefix 2001:db8:1::/64 { AdvOnLink on; AdvAutonomous on; };
            };
        """,
        "r1.startup": "ip -6 addr add 2001:db8:1::1/64 dev eth0\nsystemctl start radvd\n",
        "pc1.startup": "true\n",
    }))
    assert not result.startups, result.startups
    addr = _wait(lab, "pc1", "ip -6 -br addr show dev eth0", want="2001:db8:1:", timeout=30)
    assert "2001:db8:1:" in addr.stdout, addr
    assert _wait(lab, "pc1", "ping -6 -c1 -W1 2001:db8:1::1").ok


FRR_DAEMONS = "zebra=yes\nbgpd=yes\nospfd={ospf}\nvtysh_enable=yes\nzebra_options=\" -A 127.0.0.1 -s 90000000\"\n" \
              "bgpd_options=\" -A 127.0.0.1\"\nospfd_options=\" -A 127.0.0.1\"\n"


def test_frr_per_daemon_configs_ospf_and_bgp(make_lab, started):
    """Kathara's data-center labs' style: etc/frr/daemons and bgpd.conf/ospfd.conf/zebra.conf,
    no frr.conf: FRR must read the per-daemon files (Debian's default frr.conf would shadow them)."""
    files = {"lab.conf": "r1[0]=A\nr2[0]=A\nr2[1]=B\nr3[0]=B\n"}
    for name, ip, asn, nets in (("r1", "10.0.1.1", 1, ["10.0.1.0/24"]), ("r2", "10.0.1.2", 1, ["10.0.1.0/24", "10.0.2.0/24"]),
                                ("r3", "10.0.2.3", 2, [])):
        files[f"{name}/etc/frr/daemons"] = FRR_DAEMONS.format(ospf="yes" if asn == 1 else "no")
        files[f"{name}/etc/frr/zebra.conf"] = f"hostname {name}\n"
        if asn == 1:
            files[f"{name}/etc/frr/ospfd.conf"] = "router ospf\n" + "".join(f" network {n} area 0\n" for n in nets)
    files["r1/etc/frr/zebra.conf"] += "interface lo\n ip address 192.168.1.1/32\n"
    files["r1/etc/frr/ospfd.conf"] += " redistribute connected\n"
    files["r2/etc/frr/bgpd.conf"] = ("router bgp 1\n neighbor 10.0.2.3 remote-as 2\n address-family ipv4 unicast\n"
                                     "  redistribute ospf\n  neighbor 10.0.2.3 route-map ALL in\n"
                                     "  neighbor 10.0.2.3 route-map ALL out\n exit-address-family\n"
                                     "route-map ALL permit 10\n")
    files["r3/etc/frr/bgpd.conf"] = ("router bgp 2\n neighbor 10.0.2.2 remote-as 1\n address-family ipv4 unicast\n"
                                     "  neighbor 10.0.2.2 route-map ALL in\n  neighbor 10.0.2.2 route-map ALL out\n"
                                     " exit-address-family\nroute-map ALL permit 10\n")
    files["r1.startup"] = "ip addr add 10.0.1.1/24 dev eth0\nsystemctl start frr\n"
    files["r2.startup"] = "ip addr add 10.0.1.2/24 dev eth0\nip addr add 10.0.2.2/24 dev eth1\nsystemctl start frr\n"
    files["r3.startup"] = "ip addr add 10.0.2.3/24 dev eth0\nsystemctl start frr\n"
    lab, result = started(make_lab(files))
    assert not result.startups, result.startups
    assert lab.run("r2", "test -e /etc/frr/frr.conf").status != 0  # per-daemon mode, as kathara/frr
    route = _wait(lab, "r3", "ip route show 192.168.1.1", want="via 10.0.2.2", timeout=60)
    assert "via 10.0.2.2" in route.stdout and "bgp" in route.stdout, route


def test_quagga_style_multi_as_bgp_propagates_end_to_end(make_lab, started):
    """Netkit/Kathara Quagga labs: etc/quagga/daemons + bgpd.conf without policies, started
    with /etc/init.d/quagga; FRR must behave like Quagga (no eBGP policy needed, networks
    announced without an import check)."""
    files = {"lab.conf": "pc1[0]=A\nr1[0]=A\nr1[1]=B\nr2[0]=B\nr2[1]=C\nr3[0]=C\nr3[1]=D\npc3[0]=D\n"}
    routers = {
        "r1": (1, [("eth0", "100.1.0.1/16"), ("eth1", "10.0.12.1/30")], ["10.0.12.2 remote-as 2"], ["100.1.0.0/16"]),
        "r2": (2, [("eth0", "10.0.12.2/30"), ("eth1", "10.0.23.1/30")], ["10.0.12.1 remote-as 1", "10.0.23.2 remote-as 3"], []),
        "r3": (3, [("eth0", "10.0.23.2/30"), ("eth1", "100.3.0.1/16")], ["10.0.23.1 remote-as 2"], ["100.3.0.0/16"]),
    }
    for name, (asn, addrs, neighbors, nets) in routers.items():
        files[f"{name}/etc/quagga/daemons"] = "zebra=yes\nbgpd=yes\nospfd=no\n"
        files[f"{name}/etc/quagga/zebra.conf"] = f"hostname {name}\npassword zebra\n"
        files[f"{name}/etc/quagga/bgpd.conf"] = (f"hostname {name}\npassword zebra\nrouter bgp {asn}\n"
                                                 + "".join(f" network {n}\n" for n in nets)
                                                 + "".join(f" neighbor {n}\n" for n in neighbors) + "log file /var/log/quagga/bgpd.log\n")
        files[f"{name}.startup"] = "".join(f"ip addr add {a} dev {i}\n" for i, a in addrs) + "/etc/init.d/quagga start\n"
    files["pc1.startup"] = "ip addr add 100.1.0.10/16 dev eth0\nip route add default via 100.1.0.1\n"
    files["pc3.startup"] = "ip addr add 100.3.0.10/16 dev eth0\nip route add default via 100.3.0.1\n"
    lab, result = started(make_lab(files))
    assert not result.startups, result.startups
    routes = _wait(lab, "r1", "vtysh -c 'show ip bgp'", want="100.3.0.0/16", timeout=60)
    assert "100.3.0.0/16" in routes.stdout and "2 3 i" in routes.stdout, routes.stdout
    assert _wait(lab, "pc1", "ping -c1 -W1 100.3.0.10", timeout=30).ok


def test_an_old_netkit_lab_with_bind_and_bashisms(make_lab, started):
    """Netkit era: /etc/init.d/bind, a `#!/bin/sh` helper written for bash (>& FILE, [[ ]]),
    route and ifconfig in startups."""
    lab, result = started(make_lab({
        "lab.conf": 'LAB_DESCRIPTION="dns lab"\nLAB_VERSION=1.0\ndns[0]=A\npc[0]=A\n',
        "dns/etc/bind/named.conf.local": 'zone "netkit.lab" { type master; file "/etc/bind/db.netkit.lab"; };\n',
        "dns/etc/bind/db.netkit.lab": "$TTL 60\n@ IN SOA dns.netkit.lab. root.netkit.lab. (1 60 60 60 60)\n"
                                      "@ IN NS dns.netkit.lab.\ndns IN A 10.0.0.53\nwww IN A 10.0.0.80\n",
        "dns/usr/local/sbin/ready": "#!/bin/sh\nif [[ -f /etc/bind/db.netkit.lab ]]; then echo ready >& /tmp/ready; fi\n",
        "dns.startup": "ifconfig eth0 10.0.0.53 netmask 255.255.255.0 up\nchmod +x /usr/local/sbin/ready\n"
                       "/usr/local/sbin/ready\n/etc/init.d/bind start\n",
        "pc.startup": "ifconfig eth0 10.0.0.1 netmask 255.255.255.0 up\nroute add default gw 10.0.0.53\n"
                      "echo 'nameserver 10.0.0.53' > /etc/resolv.conf\n",
    }))
    assert not result.startups, result.startups
    assert "bash" in lab.run("dns", "readlink /bin/sh").stdout
    assert lab.run("dns", "cat /tmp/ready").stdout == "ready\n"
    answer = _wait(lab, "pc", "dig +short www.netkit.lab", want="10.0.0.80")
    assert answer.stdout.strip() == "10.0.0.80", answer


def test_a_lab_without_bashisms_keeps_dash(make_lab, started):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n", "pc1/usr/local/bin/x": "#!/bin/sh\necho ok 2>&1\n"}))
    assert lab.run("pc1", "readlink /bin/sh").stdout.strip() == "dash"


def test_netkit_dhcp3_server_names(make_lab, started):
    lab, result = started(make_lab({
        "lab.conf": "srv[0]=A\ncli[0]=A\n",
        "srv/etc/dhcp3/dhcpd.conf": "default-lease-time 600;\nsubnet 10.0.0.0 netmask 255.255.255.0 "
                                    "{ range 10.0.0.100 10.0.0.110; }\n",
        "srv/etc/default/dhcp3-server": 'INTERFACES="eth0"\n',
        "srv.startup": "ip addr add 10.0.0.1/24 dev eth0\n/etc/init.d/dhcp3-server start\n",
        "cli.startup": "true\n",
    }))
    assert not result.startups, result.startups
    r = lab.run("cli", "timeout 20 dhclient -1 -v eth0 2>&1; ip -4 -br addr show dev eth0")
    assert "10.0.0.10" in r.stdout, r.stdout


def test_dpkg_installs_a_deb_the_lab_ships(make_lab, started, tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "usr" / "bin").mkdir(parents=True)
    (pkg / "DEBIAN" / "control").write_text("Package: nk-hello\nVersion: 1.0\nArchitecture: all\n"
                                            "Maintainer: nk <nk@example.invalid>\nDescription: test\n")
    (pkg / "usr" / "bin" / "nk-hello").write_text("#!/bin/sh\necho hello from a deb\n")
    (pkg / "usr" / "bin" / "nk-hello").chmod(0o755)
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1.startup": "dpkg -i /hostlab/nk-hello.deb\n"})
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(pkg), str(folder / "nk-hello.deb")],
                   check=True, capture_output=True)
    lab, result = started(folder)
    assert not result.startups, lab.startup_log("pc1")
    assert lab.run("pc1", "nk-hello").stdout == "hello from a deb\n"
    assert "nk-hello" in lab.run("pc1", "dpkg -l nk-hello").stdout
    assert not Path("/usr/bin/nk-hello").exists()


@pytest.mark.skipif(shutil.which("tshark") is not None, reason="tshark is installed here: no program to miss")
def test_a_missing_program_is_named_with_its_package(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "echo before\ntshark -i eth0\n",
                       "pc2.startup": "snort -i eth0\n"})
    r = nk("lstart", "-d", str(folder))
    try:
        assert r.returncode == 0, r.stderr  # the machines keep running, as in Netkit and Kathara
        assert "nk lstart: startup failed on pc1 (status 127: nk: tshark: not installed on this host " \
               "(Debian package: tshark))" in r.stderr, r.stderr
        assert "pc2 (status 127: nk: snort: not available in this machine (not in Debian 12))" in r.stderr
        assert "nk lstart: this host lacks tshark (Debian package tshark, used by pc1)" in r.stderr
        assert "nk: tshark: not installed" in Lab.from_dir(folder).startup_log("pc1")
    finally:
        nk("lcrash", "-d", str(folder))
    assert nk("lstart", "-d", str(folder), "--strict").returncode == 1
    nk("lcrash", "-d", str(folder))


def test_evpn_over_vxlan_with_per_daemon_frr(make_lab, started):
    """Kathara's data-center-vxlan pattern: two leaves, a VXLAN device and a bridge each, iBGP
    l2vpn evpn (advertise-all-vni) in per-daemon bgpd.conf; two hosts on one L2 segment."""
    files = {"lab.conf": "leaf1[0]=F\nleaf1[1]=H1\nleaf2[0]=F\nleaf2[1]=H2\nh1[0]=H1\nh2[0]=H2\n"}
    for n, (name, me, peer) in enumerate((("leaf1", "10.0.0.1", "10.0.0.2"), ("leaf2", "10.0.0.2", "10.0.0.1"))):
        files[f"{name}/etc/frr/daemons"] = FRR_DAEMONS.format(ospf="no")
        files[f"{name}/etc/frr/zebra.conf"] = f"hostname {name}\n"
        files[f"{name}/etc/frr/bgpd.conf"] = (f"router bgp 65000\n bgp router-id {me}\n no bgp default ipv4-unicast\n"
                                              f" neighbor {peer} remote-as 65000\n address-family l2vpn evpn\n"
                                              f"  neighbor {peer} activate\n  advertise-all-vni\n exit-address-family\n")
        files[f"{name}.startup"] = (f"ip addr add {me}/24 dev eth0\n"
                                    "ip link add br100 type bridge\nip link set br100 up\n"
                                    f"ip link add vxlan100 type vxlan id 100 local {me} dstport 4789 nolearning\n"
                                    "ip link set vxlan100 master br100 up\nip link set eth1 master br100 up\n"
                                    "systemctl start frr\n")
    files["h1.startup"] = "ip addr add 10.1.0.1/24 dev eth0\n"
    files["h2.startup"] = "ip addr add 10.1.0.2/24 dev eth0\n"
    lab, result = started(make_lab(files))
    if "vxlan100" not in lab.run("leaf1", "ip -br link").stdout:
        pytest.skip("this kernel has no VXLAN: " + lab.startup_log("leaf1")[-300:])
    assert not result.startups, result.startups
    vteps = _wait(lab, "leaf1", "vtysh -c 'show evpn vni 100'", want="10.0.0.2", timeout=60)
    assert "10.0.0.2" in vteps.stdout, vteps.stdout
    assert _wait(lab, "h1", "ping -c1 -W1 10.1.0.2", timeout=30).ok
