"""A lab must not take the host down: memory, disk, logs, processes (issue #7, host resources)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from nk_jupyter import Lab
from nk_jupyter.engine.statedir import StateDir

from ..conftest import nk


def _start(folder: Path, env: dict[str, str]) -> Lab:
    r = subprocess.run(["nk", "lstart", "-d", str(folder)], env={**os.environ, **env}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return Lab.attach(folder)


def test_what_machines_write_is_capped_for_the_whole_lab(make_lab):
    """NK_STORAGE=48m: /tmp, /root, /etc and / of two machines share 48 MiB of host memory."""
    lab = _start(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}), {"NK_STORAGE": str(48 << 20)})
    try:
        wrote = 0
        for machine, path in (("pc1", "/tmp/a"), ("pc1", "/root/b"), ("pc2", "/etc/c"), ("pc2", "/d")):
            r = lab.run(machine, f"dd if=/dev/zero of={path} bs=1M count=40 2>&1; stat -c %s {path}")
            wrote += int(r.stdout.split()[-1])
        assert wrote <= 48 << 20, wrote
        assert "No space left on device" in lab.run("pc1", "dd if=/dev/zero of=/tmp/more bs=1M count=1 2>&1").stdout
    finally:
        lab.crash()


def test_startup_logs_are_capped(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1.startup": "head -c 5000000 /dev/zero | tr '\\0' x\n"})
    lab = _start(folder, {})
    try:
        log = StateDir.for_lab(folder).startup_log("pc1")
        size = log.stat().st_size
        assert 1 << 20 <= size < (1 << 20) + 200, size
        assert log.read_text().rstrip().endswith("nk: log truncated at 1048576 bytes")
    finally:
        lab.crash()


@pytest.mark.parametrize("kind", ["fifo", "socket", "big", "deep"])
def test_special_or_huge_files_in_a_machine_folder_are_refused_by_name(make_lab, kind):
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1/etc/.keep": ""})
    bad = folder / "pc1" / "etc" / "thing"
    if kind == "fifo":
        os.mkfifo(bad)
        why = "is a FIFO"
    elif kind == "socket":
        import socket
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(bad))
        s.close()
        why = "is a socket"
    elif kind == "big":
        with open(bad, "wb") as f:
            f.truncate(1 << 30)  # 1 GiB, sparse
        why = "is 1.0 GiB"
    else:
        fd = os.open(folder / "pc1" / "etc", os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(1500):  # a path too long for one name: made one level at a time
            os.mkdir("d", dir_fd=fd)
            fd, old = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
            os.close(old)
        os.close(fd)
        bad, why = None, "deeper than 64 levels"
    r = nk("lstart", "-d", str(folder))
    if kind == "deep":
        subprocess.run(["rm", "-rf", str(folder / "pc1")])  # (too deep for pytest's own clean-up)
    assert r.returncode == 1 and why in r.stderr and "Traceback" not in r.stderr, r.stderr
    if bad is not None:
        assert str(bad) in r.stderr
    assert not StateDir.for_lab(folder).path.exists()


def test_a_machine_cannot_fork_without_bound(make_lab, started):
    """pids=64: a fork bomb in pc1 stops at 64 tasks; pc2, with the default, stops at 1024."""
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc1[pids]=64\npc2[0]=A\n"}))
    few = _bomb(lab, "pc1", 200)
    assert 40 <= few <= 64, few
    many = _bomb(lab, "pc2", 1100)
    assert 900 <= many <= 1024, many
    assert subprocess.run(["true"]).returncode == 0  # the host is fine


def _bomb(lab: Lab, machine: str, n: int) -> int:
    """Fork n sleepers in machine (until fork fails); returns how many processes it then has."""
    bomb = ("import os, time\n"
            f"for _ in range({n}):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError:\n"
            "        break\n"
            "    if pid == 0:\n"
            "        time.sleep(60); os._exit(0)\n"
            "print(len([p for p in os.listdir('/proc') if p.isdigit()]))\n")
    (lab.directory / "bomb.py").write_text(bomb)
    r = lab.run(machine, "python3 /hostlab/bomb.py")
    if not r.stdout.strip():  # the lab is full: not even the command could start
        assert r.status != 0 and "fork" in r.stderr.lower(), r
        return 0
    return int(r.stdout.split()[-1])


def test_the_whole_lab_has_a_process_budget(make_lab):
    """NK_LAB_PIDS=300: three machines allowed 200 each cannot have more than 300 together."""
    lab = _start(make_lab({"lab.conf": "a[0]=A\na[pids]=200\nb[0]=A\nb[pids]=200\nc[0]=A\nc[pids]=200\n"}),
                 {"NK_LAB_PIDS": "300"})
    try:
        counts = [_bomb(lab, m, 190) for m in ("a", "b", "c")]  # each: init + the bomb + its sleepers
        sleepers = [max(0, c - 2) for c in counts]
        assert 3 + sum(sleepers) <= 300 and sleepers[0] == 190 and sleepers[1] >= 50, counts
    finally:
        lab.crash()


def _delegated() -> str | None:
    from nk_jupyter.linux.cgroups import Delegation
    d = Delegation.find()
    return None if d.can("memory") else "no delegated cgroup with the memory controller (NK_CGROUP / NK_CGROUP_MEMORY)"


@pytest.mark.skipif(_delegated() is not None, reason=_delegated() or "")
def test_mem_and_cpus_are_enforced_with_a_delegated_cgroup(make_lab, started):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc1[mem]=64m\npc1[cpus]=0.2\npc2[0]=A\n"}))
    hog = "python3 -c 'x = bytearray(200 << 20); print(len(x))'"
    r = lab.run("pc1", hog)
    assert r.status != 0 and "209715200" not in r.stdout, (r.status, r.stdout, r.stderr)
    assert lab.run("pc2", hog).stdout.strip() == str(200 << 20)
    assert lab.run("pc1", "echo still here").stdout == "still here\n"
    from nk_jupyter.linux.cgroups import Delegation
    d = Delegation.find()
    if d.can("cpu"):
        (lab.directory / "spin.py").write_text("import os, time\nt = time.monotonic()\n"
                                               "while time.monotonic() - t < 1.5:\n    pass\n"
                                               "print(os.times().user + os.times().system)\n")
        busy = float(lab.run("pc1", "python3 /hostlab/spin.py").stdout)
        assert busy < 0.6, busy  # 0.2 of a core over 1.5 s is 0.3 s of CPU
        assert float(lab.run("pc2", "python3 /hostlab/spin.py").stdout) > 1.0  # pc2 is not limited


def test_mem_without_a_delegated_cgroup_is_reported_not_ignored(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc1[mem]=64m\n"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("NK_CGROUP")}
    r = subprocess.run(["nk", "lstart", "-d", str(folder)], env=env, capture_output=True, text=True, timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        assert "mem" in r.stderr and "not enforced" in r.stderr, r.stderr
    finally:
        nk("lcrash", "-d", str(folder))


FLOODER = r"""
import os, socket, sys, time
# Machine root holds CAP_NET_ADMIN in its netns, so it may send to any netlink port there: it
# floods every rtnetlink socket it sees in /proc/net/netlink (and port 1, where the
# supervisor's first socket would land) with junk, hoping to fill the receive buffer of the
# socket the supervisor dumps this machine's links, addresses and routes with.
mine = set()
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    s.setblocking(False)
    mine.add(s.getsockname()[0])
    socks.append(s)
junk = b"\0" * 4000
sent = refused = 0
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    ports = {1}
    with open("/proc/net/netlink") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "0" and int(fields[2]) != 0:
                ports.add(int(fields[2]))
    for port in ports - mine:
        for s in socks:
            for _ in range(20):
                try:
                    s.sendto(junk, (port & 0xFFFFFFFF, 0))
                    sent += 1
                except BlockingIOError:
                    break
                except OSError:
                    refused += 1
                    break
with open("/root/flood.txt", "w") as f:
    f.write(f"{sent} {refused}\n")
"""


def test_a_machine_flooding_netlink_ports_cannot_break_the_lab_s_topology(make_lab, started):
    """The supervisor reads each machine's links, addresses and routes through a netlink socket
    it opens in that machine's netns. The machine floods every rtnetlink port it can see there;
    every topology snapshot must still come through, with its address."""
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "flood.py": FLOODER,
                       "pc1.startup": "ip addr add 10.0.0.1/24 dev eth0\n"
                                      "for i in 1 2; do python3 /hostlab/flood.py 6 >/dev/null 2>&1 & done\n",
                       "pc2.startup": "ip addr add 10.0.0.2/24 dev eth0\n"})
    lab, _ = started(folder)
    time.sleep(1)  # the flooders are at work
    seen = []
    for _ in range(20):
        topo = lab.topology()
        pc1 = next(m for m in topo.machines if m.name == "pc1")
        seen.append(pc1.interfaces[0].addresses)
    assert all(addresses == ["10.0.0.1/24"] for addresses in seen), seen
    lab.run("pc1", "while pgrep -f '[f]lood.py' >/dev/null; do sleep 0.2; done", timeout=60)  # the flood is over
    counts = lab.run("pc1", "cat /root/flood.txt").stdout.split()
    assert int(counts[0]) + int(counts[1]) > 0  # the flooder did send (or was refused)


def test_a_machine_with_thousands_of_routes_cannot_make_its_topology_unbounded(make_lab, started):
    """The topology view refreshes every few seconds: a machine that makes thousands of routes
    (a million would do as well) is read up to the snapshot's limit, and its panel says how much
    more there was instead of listing it."""
    from nk_jupyter.jupyter.graph import machine_html
    routes = "".join(f"route add 172.{16 + i // 250}.{i % 250}.0/24 via 10.0.0.254\n" for i in range(6000))
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "routes.batch": routes,
                       "pc1.startup": "ip addr add 10.0.0.1/16 dev eth0\nip -batch /hostlab/routes.batch\n",
                       "pc2.startup": "ip addr add 10.0.0.2/16 dev eth0\n"})
    lab, _ = started(folder)
    assert lab.run("pc1", "ip -4 route | wc -l").stdout.split() == ["6001"]
    topo = lab.topology()
    pc1, pc2 = (next(m for m in topo.machines if m.name == n) for n in ("pc1", "pc2"))
    assert pc1.interfaces[0].addresses == ["10.0.0.1/16"] and pc2.left_out == 0
    assert len(pc1.routes) <= 4096 and pc1.left_out > 6000 - 4096
    assert f"and {pc1.left_out} more links, addresses or routes" in machine_html(pc1)
