"""Boot order (lab.dep), shutdown scripts, first-boot semantics, hot-plug, two labs at once."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import pytest

from pathlib import Path

from nk_jupyter.model.events import LinksEvent

from ..conftest import nk


def test_lab_dep_orders_startups(make_lab, started):
    folder = make_lab({
        "lab.conf": "a[0]=X\nb[0]=X\nc[0]=X\n",
        "lab.dep": "a: b\nb: c\n",
        "c.startup": "sleep 0.3; date +%s.%N > /hostlab/c.done\n",
        "b.startup": "test -f /hostlab/c.done && date +%s.%N > /hostlab/b.done\n",
        "a.startup": "test -f /hostlab/b.done && date +%s.%N > /hostlab/a.done\n",
    })
    lab, result = started(folder)
    assert result.failed == []
    times = [float((folder / f"{m}.done").read_text()) for m in "cba"]
    assert times == sorted(times)


def test_a_boots_events_reach_the_client_while_it_boots(make_lab, started):
    """The supervisor sends events in batches (engine/handlers.py Conn.event): those made while
    a boot is still creating machines must still go out as it goes, not all at its end."""
    import time
    from nk_jupyter.model.events import MachineEvent
    n = 80
    folder = make_lab({"lab.conf": "".join(f"pc{i}[0]=A\n" for i in range(n))})
    first_seen: dict[str, float] = {}

    def progress(event):
        if isinstance(event, MachineEvent):
            first_seen.setdefault(event.machine, time.monotonic())
    t0 = time.monotonic()
    lab, result = started(folder, progress=progress)
    end = time.monotonic()
    assert result.failed == [] and len(first_seen) == n
    first, last = first_seen["pc0"], first_seen[f"pc{n - 1}"]
    # making 80 machines takes >= 0.15 s on any host: pc0's event came well before pc79's
    assert last - first > 0.05, (first - t0, last - t0, end - t0)
    order = sorted(first_seen, key=first_seen.get)
    assert order[0] == "pc0" and sorted(order, key=lambda m: int(m[2:])) == [f"pc{i}" for i in range(n)]


def test_shutdown_scripts_run_on_halt_not_on_crash(make_lab):
    folder = make_lab({
        "lab.conf": "pc1[0]=A\n",
        "pc1.shutdown": "echo machine >> /hostlab/down.log\n",
        "shared.shutdown": "echo shared >> /hostlab/down.log\n",
    })
    assert nk("lstart", "-d", str(folder)).returncode == 0
    assert nk("lhalt", "-d", str(folder)).returncode == 0
    assert (folder / "down.log").read_text().split() == ["machine", "shared"]
    (folder / "down.log").unlink()
    assert nk("lstart", "-d", str(folder)).returncode == 0
    assert nk("lcrash", "-d", str(folder)).returncode == 0
    assert not (folder / "down.log").exists()
    assert nk("lclean", "-d", str(folder)).returncode == 0


def test_halt_keeps_files_crash_discards_them(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1/etc/motd.lab": "from the lab\n"})
    assert nk("lstart", "-d", str(folder)).returncode == 0
    assert nk("vcmd", "-d", str(folder), "pc1", "echo kept > /root/note; echo >> /etc/motd.lab changed").returncode == 0
    assert nk("lhalt", "-d", str(folder)).returncode == 0
    assert nk("lstart", "-d", str(folder)).returncode == 0
    r = nk("vcmd", "-d", str(folder), "pc1", "cat /root/note /etc/motd.lab")
    assert r.stdout.split() == ["kept", "from", "the", "lab", "changed"]
    assert nk("lcrash", "-d", str(folder)).returncode == 0
    assert nk("lstart", "-d", str(folder)).returncode == 0
    r = nk("vcmd", "-d", str(folder), "pc1", "cat /root/note 2>&1; cat /etc/motd.lab")
    assert "No such file" in r.stdout and "changed" not in r.stdout
    assert nk("lcrash", "-d", str(folder)).returncode == 0


def test_hot_plug_and_unplug(make_lab, started):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n",
                               "pc1.startup": "ip a add 10.0.0.1/24 dev eth0\n",
                               "pc2.startup": "ip a add 10.0.0.2/24 dev eth0\n"}))
    assert nk("vconfig", "-d", str(lab.directory), "pc1", "--eth1=B").returncode == 0
    assert nk("vconfig", "-d", str(lab.directory), "pc2", "--eth1=B").returncode == 0
    lab.run("pc1", "ip a add 10.9.0.1/24 dev eth1").check()
    lab.run("pc2", "ip a add 10.9.0.2/24 dev eth1").check()
    assert lab.run("pc1", "ping -c1 -W2 10.9.0.2").status == 0
    topo = {d.name: d.members for d in lab.topology().domains}
    assert topo["B"] == ["pc1:eth1", "pc2:eth1"]
    assert nk("vconfig", "-d", str(lab.directory), "pc1", "--eth1=").returncode == 0
    assert "eth1" not in lab.run("pc1", "ip -br link").stdout
    bad = nk("vconfig", "-d", str(lab.directory), "nosuch", "--eth1=B")
    assert bad.returncode == 1 and "pc1, pc2" in bad.stderr


def test_two_labs_side_by_side(make_lab, started):
    conf = {"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "ip a add 10.0.0.1/24 dev eth0\n",
            "pc2.startup": "ip a add 10.0.0.2/24 dev eth0\n"}
    one, _ = started(make_lab(conf, "one"))
    two, _ = started(make_lab(conf, "two"))
    assert one.run("pc1", "ping -c1 -W2 10.0.0.2").status == 0
    assert two.run("pc1", "ping -c1 -W2 10.0.0.2").status == 0
    one.run("pc2", "ip link set eth0 down").check()
    assert one.run("pc1", "ping -c1 -W1 10.0.0.2").status != 0
    assert two.run("pc1", "ping -c1 -W2 10.0.0.2").status == 0
    listing = nk("vlist").stdout
    assert str(one.directory) in listing and str(two.directory) in listing


def test_vcmd_streams_and_propagates_status(make_lab, started):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    r = nk("vcmd", "-d", str(lab.directory), "pc1", "echo out; echo err >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, "out\n", "err\n")
    r = nk("vcmd", "-d", str(lab.directory), "pc1", "sh", "-c", "echo $(hostname)  two  spaces")
    assert r.stdout == "pc1 two spaces\n"
    chunks = list(lab.exec("pc1", "for i in 1 2 3; do echo $i; sleep 0.2; done"))
    assert len(chunks) >= 3 and "".join(t for _, t in chunks) == "1\n2\n3\n"
    stream = lab.exec("pc1", "echo started; sleep 30")
    it = iter(stream)
    assert next(it) == ("stdout", "started\n")
    stream.signal("INT")
    assert list(it) == [] and stream.status == 130
    assert Path(lab.directory).is_dir()


def test_vcmd_fast_door(make_lab, started):
    """Plain `nk vcmd` starts without the lab model, the typed messages, argparse or pathlib, and
    behaves as the full path: stdin relayed, Ctrl-C passed on, errors explained by the full API."""
    import signal
    import subprocess
    import sys
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    d = str(lab.directory)
    # (what the interpreter itself loaded before nk, an editable install's finder say, does not count)
    probe = ("import sys; before = set(sys.modules); from nk_jupyter.cli import main; "
             "st = main(['vcmd', '-d', sys.argv[1], 'pc1', 'cat']); "
             "heavy = [m for m in ('nk_jupyter.api', 'nk_jupyter.engine.messages', 'nk_jupyter.model', 'argparse', "
             "'dataclasses', 'pathlib', 'typing') if m in sys.modules and m not in before]; "
             "print('status', st, 'heavy', heavy)")
    r = subprocess.run([sys.executable, "-P", "-c", probe, d], input="from stdin\n", capture_output=True, text=True,
                       timeout=60)
    assert r.stdout == "from stdin\nstatus 0 heavy []\n", (r.stdout, r.stderr)
    r = nk("vcmd", "-d", d, "pc9", "true")
    assert r.returncode == 1 and "no machine named 'pc9'" in r.stderr and "Traceback" not in r.stderr
    running = subprocess.Popen([sys.executable, "-m", "nk_jupyter", "vcmd", "-d", d, "pc1", "echo started; sleep 30"],
                               stdout=subprocess.PIPE, text=True)
    assert running.stdout.readline() == "started\n"
    running.send_signal(signal.SIGINT)
    assert running.wait(timeout=20) == 130


def _drive_on_pty(argv: list[str], keys: bytes, timeout: float = 20) -> bytes:
    """Run argv on a new pty, type keys, return everything it printed."""
    import os
    import pty
    import select
    import subprocess
    import time
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out, sent = b"", False
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        if not sent and (b"# " in out or b"$ " in out or time.monotonic() - start > 5):
            os.write(master, keys)
            sent = True
        if proc.poll() is not None and not ready:
            break
    proc.wait(timeout=5)
    os.close(master)
    return out


def test_vconnect_and_shell_are_interactive(make_lab, started):
    import sys
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    out = _drive_on_pty([sys.executable, "-m", "nk_jupyter", "vconnect", "-d", str(lab.directory), "pc1"],
                        b"echo I am $(hostname) on $(tty)\nexit\n")
    assert b"I am pc1 on /dev/pts/0" in out
    out = _drive_on_pty([sys.executable, "-m", "nk_jupyter", "shell", "-d", str(lab.directory)],
                        b"ip -br link; tc filter show block 1; id -u; exit\n")
    # the hub end of pc1's eth0, and domain A's hub: its block's filter (linux/netlink.py)
    assert b"nkv0.0" in out and b"mirred (Egress Redirect" in out and b"\r\n0\r\n" in out


def test_vconnect_keeps_what_the_shell_wrote_just_before_it_exited(make_lab, started):
    """When vconnect wakes to find both the shell's last output and its exit waiting (a busy
    machine, a descheduled reader), the output still reaches the user; the sidebar terminals
    run vconnect too. vconnect is stopped while the shell writes and exits."""
    import os
    import signal
    import subprocess
    import sys
    import time
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    p = subprocess.Popen([sys.executable, "-m", "nk_jupyter", "vconnect", "-d", str(lab.directory), "pc1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"sleep 1; echo last-words-$((6*7)); exit\n")
        p.stdin.close()
        seen, deadline = b"", time.monotonic() + 30
        while seen.count(b"sleep 1") < 2 and time.monotonic() < deadline:  # the shell has read the line
            seen += os.read(p.stdout.fileno(), 4096) or b""
        p.send_signal(signal.SIGSTOP)
        time.sleep(2)
        p.send_signal(signal.SIGCONT)
        out = seen + p.stdout.read()
        assert p.wait(timeout=30) == 0, p.stderr.read()
    finally:
        p.kill()
        p.wait()
    assert b"last-words-42" in out, out


def test_a_machine_whose_init_dies_is_reported_crashed(make_lab, started):
    import time
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}))
    pid = next(m.pid for m in lab.info() if m.name == "pc1")
    assert pid
    r = nk("shell", "-d", str(lab.directory), "kill", "-9", str(pid))
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and next(m.state for m in lab.info() if m.name == "pc1") != "crashed":
        time.sleep(0.05)
    states = {m.name: m.state for m in lab.info()}
    assert states == {"pc1": "crashed", "pc2": "running"}
    assert "not running" in nk("vcmd", "-d", str(lab.directory), "pc1", "true").stderr


def _stopped_in(lab, machine: str, args: str) -> str | None:
    """The pid (in the machine) of its stopped process whose command line is args, if any."""
    for line in lab.run(machine, "ps -eo pid=,stat=,args=").stdout.splitlines():
        pid, stat, rest = line.split(None, 2)
        if stat.startswith("T") and rest == args:
            return pid
    return None


def test_a_command_that_stops_itself_stops_nothing_of_nk(make_lab, started):
    """A command that stops (kill -STOP $$) waits to be continued, as anywhere: its exec goes
    on when it does. nk-enter, which relays its status from outside the machine, never stops
    with it: one that did was never continued, kept its exec waiting after a crash of the
    machine and, in a delegated cgroup, kept the machine's cgroup busy, so the machine could
    not start again ("cannot prepare the machine: File exists")."""
    import threading
    import time
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}))
    stream = lab.exec("pc1", "kill -STOP $$; echo resumed")
    deadline = time.monotonic() + 10
    while (pid := _stopped_in(lab, "pc1", "/bin/bash -c kill -STOP $$; echo resumed")) is None:
        assert time.monotonic() < deadline, lab.run("pc1", "ps -eo pid,stat,args").stdout
        time.sleep(0.05)
    assert lab.run("pc1", f"kill -CONT {pid}").status == 0
    out = [text for kind, text in stream.chunks(deadline=time.monotonic() + 10) if kind == "stdout"]
    assert (out, stream.timed_out, stream.wait()) == ([b"resumed\n"], False, 0)

    stream = lab.exec("pc1", "kill -STOP $$")
    while _stopped_in(lab, "pc1", "/bin/bash -c kill -STOP $$") is None:
        assert time.monotonic() < deadline + 10
        time.sleep(0.05)
    ended: list[int] = []
    waiter = threading.Thread(target=lambda: ended.append(stream.wait()), daemon=True)
    waiter.start()
    lab.crash(["pc1"])
    waiter.join(timeout=10)
    assert ended == [137], "the stopped command's exec did not end with its machine"
    again = lab.start(["pc1"])  # at once: nothing of the old pc1 is left to wait for
    assert again.failed == [], [(m.name, m.detail) for m in lab.info()]
    assert lab.run("pc1", "echo back").stdout == "back\n"


def test_subscribers_hear_of_address_changes_inside_machines(make_lab, started):
    import queue
    import threading
    import time
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}))
    heard: queue.Queue = queue.Queue()

    def listen():
        for ev in lab.events():
            heard.put(ev)
    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.3)
    lab.run("pc2", "ip addr add 10.7.0.2/24 dev eth0").check()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ev = heard.get(timeout=5)
        if isinstance(ev, LinksEvent) and ev.machine == "pc2":
            break
    else:
        raise AssertionError("no event for pc2's new address")
    assert "10.7.0.2/24" in lab.topology().machine("pc2").interfaces[0].addresses


def test_a_stuck_startup_times_out_and_is_named(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc2.startup": "echo before the hang\nsleep 600\n"})
    r = nk("lstart", "-d", str(folder), "--timeout", "2")
    assert r.returncode == 1
    assert "pc2 failed: startup did not finish within 2 s" in r.stderr and "before the hang" in r.stderr
    assert "pc1" not in r.stderr.replace("pc1: running", "")
    assert nk("vcmd", "-d", str(folder), "pc2", "true").returncode == 0  # the machine itself still runs
    assert nk("lcrash", "-d", str(folder)).returncode == 0


def test_machine_limit_per_user(make_lab, monkeypatch):
    """NK_MAX_MACHINES (set by an admin, e.g. the JupyterHub spawner) bounds this user's
    machines across running labs: a lab beyond it is refused, naming the limit; nothing starts."""
    from nk_jupyter import Lab
    from nk_jupyter.errors import HostSetupError
    first = make_lab({"lab.conf": "a[0]=A\nb[0]=A\n"}, name="first")
    second = make_lab({"lab.conf": "c[0]=A\nd[0]=A\n"}, name="second")
    from nk_jupyter.api import running_labs
    others = sum(len(Lab.attach(r.directory).info()) for r in running_labs())  # labs of other tests, if any
    monkeypatch.setenv("NK_MAX_MACHINES", str(others + 3))
    one = Lab.from_dir(first)
    one.start()
    try:
        two = Lab.from_dir(second)
        with pytest.raises(HostSetupError) as e:
            two.start()
        assert f"more than the {others + 3} your administrator allows (NK_MAX_MACHINES)" in str(e.value)
        assert not two.running
    finally:
        one.crash()
    Lab.from_dir(second).start()
    Lab.from_dir(second).crash()


def test_a_machine_crashed_during_its_startup_boots_afresh_next_time(make_lab):
    """lcrash throws a machine's files away: its next start is a first boot (its folder copied
    over / again), even when its startup was still running as it was crashed (the lab goes on:
    pc2 runs)."""
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1/etc/nk-first": "copied\n",
                       "pc1.startup": "sleep 60\n"})
    assert nk("lstart", "-d", str(folder), "--fast").returncode == 0
    assert nk("lcrash", "-d", str(folder), "pc1").returncode == 0  # (its startup is killed with it)
    time.sleep(1)  # (the killed startup's end has been seen by now)
    try:
        assert nk("lstart", "-d", str(folder), "pc1", "--fast").returncode == 0
        r = nk("vcmd", "-d", str(folder), "pc1", "cat /etc/nk-first")
        assert r.returncode == 0 and r.stdout.strip() == "copied", (r.stdout, r.stderr)
    finally:
        nk("lcrash", "-d", str(folder))


@contextlib.contextmanager
def _lstart_booting(folder: Path):
    """`nk lstart` of folder running, once one of its machines is booting; everything is crashed
    after."""
    boot = subprocess.Popen([sys.executable, "-m", "nk_jupyter", "lstart", "-d", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while "booting" not in nk("linfo", "-d", str(folder)).stdout:
            assert time.monotonic() < deadline and boot.poll() is None
            time.sleep(0.1)
        yield boot
    finally:
        if boot.poll() is None:
            boot.kill()
            boot.wait()
        nk("lcrash", "-d", str(folder))


def test_a_boot_goes_on_when_a_machine_others_wait_for_is_crashed(make_lab):
    """lab.dep: b waits for a's startup. Crashing a while its startup runs must let b boot and
    the lstart answer, not hang (linfo then says a crashed, b running)."""
    folder = make_lab({"lab.conf": "a[0]=A\nb[0]=A\n", "lab.dep": "b: a\n",
                       "a.startup": "sleep 60\n", "b.startup": "touch /hostlab/b.done\n"})
    with _lstart_booting(folder) as boot:
        assert nk("lcrash", "-d", str(folder), "a").returncode == 0
        _out, err = boot.communicate(timeout=20)
        assert (folder / "b.done").exists(), err
        info = nk("linfo", "-d", str(folder)).stdout
        assert "crashed" in info and "running" in info, info


def test_a_halt_during_a_boot_starts_no_startup_that_waited(make_lab):
    """lab.dep: b and c wait for a, whose startup runs. lhalt of the whole lab then: no startup
    that waited may run (b and c are being halted), and the lstart answers."""
    folder = make_lab({"lab.conf": "a[0]=A\nb[0]=A\nc[0]=A\n", "lab.dep": "b: a\nc: b\n",
                       "a.startup": "sleep 60\n", "b.startup": "touch /hostlab/b.ran\n",
                       "c.startup": "touch /hostlab/c.ran\n"})
    with _lstart_booting(folder) as boot:
        assert nk("lhalt", "-d", str(folder)).returncode == 0
        boot.communicate(timeout=20)
        time.sleep(0.5)
        assert not (folder / "b.ran").exists() and not (folder / "c.ran").exists()
