"""Uplinks (Kathara bridged, Netkit tap), published ports, capture, link shaping.

Traffic stays on this machine: uplink tests reach only servers started here on the host's
127.0.0.1, through the driver's host-loopback mapping (--host-loopback); the "blocked"
tests use slirp4netns --disable-host-loopback, which refuses at once. Ports are reached on
127.0.0.1. No name is resolved.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from nk_jupyter import Lab, pcap
from nk_jupyter.errors import UserError
from nk_jupyter.model.uplinks import UplinkOptions

from ..conftest import nk
from ..net import free_port


def _tun_reason() -> str | None:
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR))
        return None
    except OSError as e:
        return f"/dev/net/tun cannot be opened by this user ({e.strerror}): uplinks need it"


needs_tun = pytest.mark.skipif(_tun_reason() is not None, reason=_tun_reason() or "")
needs_slirp = pytest.mark.skipif(not shutil.which("slirp4netns"), reason="slirp4netns is not installed")


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the host\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def host_server():
    """An HTTP server on the host's 127.0.0.1 (a free port)."""
    server = HTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _uplink_processes() -> list[str]:
    out = subprocess.run(["pgrep", "-u", str(os.getuid()), "-a", "-f", "slirp4netns|pasta"],
                         capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def _gone(timeout: float = 5) -> list[str]:
    deadline = time.monotonic() + timeout
    while _uplink_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _uplink_processes()


CURL = "curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{}:{}/; echo \" rc=$?\""


@needs_tun
@needs_slirp
def test_bridged_uplink_reaches_host_loopback_only_when_allowed(make_lab, started, host_server):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc1[1]=B\npc1[bridged]=true\n"})
    lab, result = started(folder, uplinks=UplinkOptions(host_loopback=True))
    assert result.ok
    r = lab.run("pc1", "ip -4 -br addr show eth2; ip route show default; cat /etc/resolv.conf")
    assert "10.0.2.100/24" in r.stdout and "default via 10.0.2.2 dev eth2" in r.stdout, r
    assert "nameserver 10.0.2.3" in r.stdout
    r = lab.run("pc1", CURL.format("10.0.2.2", host_server))
    assert r.stdout.strip() == "200 rc=0", r
    assert len(_uplink_processes()) == 1
    lab.crash()
    assert _gone() == [], "the uplink driver outlived its lab"
    # without --host-loopback (the default) the host's 127.0.0.1 cannot be reached: refused at once
    lab, result = started(folder)
    t0 = time.monotonic()
    r = lab.run("pc1", CURL.format("10.0.2.2", host_server))
    assert r.stdout.strip().startswith("000") and "rc=0" not in r.stdout, r
    assert time.monotonic() - t0 < 2.5, "refused by the driver, not timed out"
    r = lab.run("pc1", CURL.format("127.0.0.1", host_server))
    assert "rc=7" in r.stdout, r


@needs_tun
@needs_slirp
def test_netkit_tap_lab(make_lab, host_server):
    folder = make_lab({"lab.conf": "pc1[0]=tap,10.0.0.1,10.0.0.2\npc1[1]=A\npc2[0]=A\n",
                       "pc1.startup": "ip addr add 10.1.0.1/24 dev eth1\n",
                       "pc2.startup": "ip addr add 10.1.0.2/24 dev eth0\n"})
    r = nk("lstart", "-d", str(folder), "--host-loopback")
    try:
        assert r.returncode == 0, r.stderr
        r = nk("vcmd", "-d", str(folder), "pc1", "ip -4 -br addr show eth0; ip route show default")
        assert "10.0.0.2/24" in r.stdout and "default via" in r.stdout, r.stdout
        # TAP_ADDR is the host, as in Netkit
        r = nk("vcmd", "-d", str(folder), "pc1", CURL.format("10.0.0.1", host_server))
        assert r.stdout.strip() == "200 rc=0", r
    finally:
        nk("lcrash", "-d", str(folder))
    assert _gone() == []


@needs_tun
@pytest.mark.skipif(not shutil.which("pasta"), reason="pasta (passt) is not installed")
def test_pasta_driver(make_lab, started, host_server):
    lab, result = started(make_lab({"lab.conf": "pc1[0]=A\npc1[bridged]=true\n"}),
                          uplinks=UplinkOptions(driver="pasta", host_loopback=True))
    assert result.ok
    r = lab.run("pc1", "ip -4 -br addr show eth1; " + CURL.format("10.0.2.2", host_server))
    assert "10.0.2.100/24" in r.stdout and "200 rc=0" in r.stdout, r
    assert any("pasta" in p for p in _uplink_processes())
    lab.crash()
    assert _gone() == []


def test_missing_driver_is_an_error_naming_the_fix(make_lab, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for f in os.listdir(d) if os.path.isdir(d) else ():
            if f not in ("slirp4netns", "pasta") and not (bindir / f).exists():
                os.symlink(f"{d}/{f}", bindir / f)
    folder = make_lab({"lab.conf": "pc1[0]=A\npc1[bridged]=true\n"})
    r = subprocess.run([sys.executable, "-m", "nk_jupyter", "lstart", "-d", str(folder)], capture_output=True,
                       text=True, env={**os.environ, "PATH": str(bindir)}, timeout=60)
    assert r.returncode == 1 and "machine(s) pc1 have an uplink" in r.stderr and "apt install slirp4netns" in r.stderr
    assert "Traceback" not in r.stderr and not Lab.from_dir(folder).running


WEB = {"web.startup": "echo served-by-web > /root/index.html\n"
                      "cd /root && setsid python3 -m http.server 80 >/dev/null 2>&1 < /dev/null &\n"
                      "for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1/ && break; sleep 0.05; done\n"}


def _get(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5).read().decode()


def test_ports_from_lab_conf_and_at_run_time(make_lab):
    p1, p2 = free_port(), free_port()
    folder = make_lab({"lab.conf": f'web[0]=A\nweb[port]="{p1}:80/tcp"\nother[0]=A\n', **WEB})
    r = nk("lstart", "-d", str(folder))
    try:
        assert r.returncode == 0, r.stderr
        assert _get(p1) == "served-by-web\n"
        r = nk("port", "-d", str(folder), "ls")
        assert r.stdout.split() == ["web", f"127.0.0.1:{p1}:80/tcp"], r
        # at run time, like rootlessctl add-ports
        assert nk("port", "-d", str(folder), "add", "web", f"{p2}:80").returncode == 0
        assert _get(p2) == "served-by-web\n"
        # a host port in use (here: by the lab itself) is an error naming it, at once
        r = nk("port", "-d", str(folder), "add", "other", f"{p1}:80")
        assert r.returncode == 1 and f"127.0.0.1:{p1}/tcp" in r.stderr and "already" in r.stderr, r.stderr
        r = nk("port", "-d", str(folder), "add", "other", "80:80")
        assert r.returncode == 1 and "need root" in r.stderr and "port 127.0.0.1:80/tcp" in r.stderr, r.stderr
        r = nk("port", "-d", str(folder), "add", "other", "8080:99999")
        assert r.returncode == 1 and "1-65535" in r.stderr
        assert nk("port", "-d", str(folder), "rm", f"{p2}:80").returncode == 0
        with pytest.raises(OSError):
            _get(p2)
        assert _get(p1) == "served-by-web\n"
    finally:
        nk("lcrash", "-d", str(folder))
    with pytest.raises(OSError):  # the lab's ports go with it
        _get(p1)


def test_a_lab_publishes_on_the_host_loopback_only(make_lab, started):
    port = free_port()
    lab, result = started(make_lab({"lab.conf": f'web[0]=A\nweb[port]="0.0.0.0:{port}:80"\n', **WEB}),
                          progress=(events := []).append)
    assert result.ok
    said = " ".join(e.message for e in events if type(e).__name__ == "WarningEvent")
    assert f"port 0.0.0.0:{port}:80/tcp is not published" in said and f"nk port add web 0.0.0.0:{port}:80" in said
    assert lab.ports() == []
    # the user may: nk port add / Lab.publish
    assert [p.spec for p in lab.publish("web", f"0.0.0.0:{port}:80")] == [f"0.0.0.0:{port}:80/tcp"]
    assert _get(port) == "served-by-web\n"


def test_a_port_in_use_stops_lstart_before_anything_starts(make_lab):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        folder = make_lab({"lab.conf": f'web[0]=A\nweb[port]="{port}:80"\n'})
        r = nk("lstart", "-d", str(folder))
        assert r.returncode == 1 and f"web: port 127.0.0.1:{port}/tcp is already in use" in r.stderr, r.stderr
        assert not Lab.from_dir(folder).running
    finally:
        busy.close()


def test_vdump_captures_a_domain_as_pcap(make_lab, started):
    folder = make_lab({"lab.conf": "a[0]=A\nb[0]=A\n", "a.startup": "ip addr add 10.0.0.1/24 dev eth0\n",
                       "b.startup": "ip addr add 10.0.0.2/24 dev eth0\n"})
    lab, _ = started(folder)
    if not shutil.which("tcpdump"):
        pytest.skip("tcpdump is not installed")
    cap = subprocess.Popen([sys.executable, "-m", "nk_jupyter", "vdump", "-d", str(folder), "A", "-c", "6"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.7)
    assert lab.run("a", "ping -c 3 -i 0.2 10.0.0.2").ok
    out, err = cap.communicate(timeout=20)
    assert cap.returncode == 0, err
    assert out[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"), out[:16]
    packets = list(pcap.read([out]))
    assert len(packets) == 6
    text = [p.summary() for p in packets]
    assert any("10.0.0.1 > 10.0.0.2: ICMP echo request" in t for t in text), text
    # the API stream, stopped by a signal, is the same pcap
    stream = lab.capture("A")
    time.sleep(1.0)  # tcpdump is listening (it takes a moment on a loaded machine)
    lab.run("b", "ping -c 3 -i 0.2 10.0.0.1")
    time.sleep(0.3)
    stream.signal("INT")
    data = b"".join(c for kind, c in stream.chunks() if kind == "stdout")
    assert sum(1 for _ in pcap.read([data])) >= 4
    with pytest.raises(UserError) as e:
        lab.capture("Z")
    assert "no collision domain 'Z'" in str(e.value)


IPERF = {"lab.conf": "a[0]=A\nb[0]=A\n", "a.startup": "ip addr add 10.0.0.1/24 dev eth0\n",
         "b.startup": "ip addr add 10.0.0.2/24 dev eth0\niperf3 -s -D\n"}


def _mbits(lab, extra: str = "") -> float:
    r = lab.run("a", f"iperf3 -c 10.0.0.2 -t 3 -J {extra}", timeout=30)
    data = json.loads(r.stdout)
    return data["end"]["sum_received"]["bits_per_second"] / 1e6


@pytest.mark.skipif(not shutil.which("iperf3"), reason="iperf3 is not installed")
def test_shaping_rate_and_loss_measured(make_lab, started):
    lab, _ = started(make_lab(IPERF))
    for _ in range(50):
        if lab.run("a", "nc -z 10.0.0.2 5201 2>/dev/null || (echo > /dev/tcp/10.0.0.2/5201) 2>/dev/null").ok:
            break
        time.sleep(0.1)
    assert lab.shape("rate=20mbit", machine="b", interface=0) == ["b eth0"]
    towards = _mbits(lab)        # a -> b: b's hub port sends at 20 Mbit/s (tbf)
    back = _mbits(lab, "-R")     # b -> a: policed where b's frames enter the hub
    assert 18 <= towards <= 22, towards
    assert 16 <= back <= 22, back
    lab.shape("", machine="b", interface=0)
    assert _mbits(lab) > 200
    # loss: 10 % each way on b's port: a ping's request or reply is lost ~19 % of the time
    lab.shape("loss=10%", domain="A")  # both a's and b's ports: ~34 % per round trip
    r = lab.run("a", "ping -c 400 -i 0.002 -q 10.0.0.2", timeout=60)
    lost = float(re.search(r"([0-9.]+)% packet loss", r.stdout).group(1))
    expected = 100 * (1 - 0.9 ** 4)
    assert abs(lost - expected) < 8, (lost, expected)
    lab.shape("", domain="A")
    r = lab.run("a", "ping -c 100 -i 0.002 -q 10.0.0.2", timeout=30)
    assert " 0% packet loss" in r.stdout, r.stdout


def test_shaping_errors_are_clear(make_lab, started):
    folder = make_lab({"lab.conf": 'a[0]=A\nb[0]=A\nb[shape]="eth0 rate=10mbit"\n',
                       "a.startup": "ip addr add 10.0.0.1/24 dev eth0\n", "b.startup": "ip addr add 10.0.0.2/24 dev eth0\n"})
    lab, result = started(folder)
    assert result.ok
    with pytest.raises(UserError) as e:
        lab.shape("rate=fast", machine="a", interface=0)
    assert "rate=fast" in str(e.value)
    with pytest.raises(UserError) as e:
        lab.shape("rate=1mbit", machine="a", interface=3)
    assert "a has no eth3" in str(e.value)
    try:
        lab.shape("delay=20ms", machine="a", interface=0)
    except UserError as e:
        assert "netem" in str(e), e
        pytest.skip("this kernel has no netem: delay and jitter cannot be measured here")
    r = lab.run("b", "ping -c 5 -i 0.2 -q 10.0.0.1")
    rtt = float(re.search(r"= [0-9.]+/([0-9.]+)/", r.stdout).group(1))
    assert rtt >= 19, r.stdout
