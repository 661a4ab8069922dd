"""Lab states are truthful and every failure is clean (issue #7, last part)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nk_jupyter import Lab
from nk_jupyter.engine.launch import our_supervisors as our_processes
from nk_jupyter.engine import messages
from nk_jupyter.engine.client import EngineClient
from nk_jupyter.engine.statedir import StateDir, state_root
from nk_jupyter.errors import UserError

from ..conftest import nk
from .conftest import wait_for

N = 50


def _marking_lab(make_lab, n: int = N) -> Path:
    """n machines whose startups each leave a mark in /hostlab/ran."""
    files = {"lab.conf": "".join(f"m{i}[0]=A\n" for i in range(n)), "ran/.keep": "",
             "shared.startup": "sleep 1.5; touch /hostlab/ran/$(hostname)\n"}
    return make_lab(files)


def _cli(folder: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nk_jupyter", *args, "-d", str(folder)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _gone(state: StateDir) -> bool:
    return wait_for(lambda: not our_processes(str(state.path)), timeout=15)


@pytest.mark.parametrize("when", [0.3, 1.0, 2.0])
@pytest.mark.parametrize("how", ["INT", "KILL"])
def test_interrupted_cli_lstart_then_lstart_runs_every_startup(make_lab, how, when):
    folder = _marking_lab(make_lab)
    state = StateDir.for_lab(folder)
    p = _cli(folder, "lstart")
    time.sleep(when)
    os.killpg(p.pid, getattr(signal, f"SIG{how}"))
    p.wait(timeout=30)
    try:
        r = nk("lstart", "-d", str(folder), timeout=300)
        assert r.returncode == 0, r.stderr
        ran = sorted(x.name for x in (folder / "ran").iterdir() if x.name != ".keep")
        assert ran == sorted(f"m{i}" for i in range(N)), r.stderr
        assert all(m.state == "running" for m in Lab.attach(folder).info())
    finally:
        nk("lcrash", "-d", str(folder))
    assert _gone(state)


@pytest.mark.parametrize("when", [0.05, 0.3, 1.0])
def test_supervisor_killed_during_lstart_then_lstart_runs_every_startup(make_lab, when):
    folder = _marking_lab(make_lab)
    state = StateDir.for_lab(folder)
    p = _cli(folder, "lstart")
    assert wait_for(lambda: state.supervisor_pid(), timeout=30)
    time.sleep(when)
    os.kill(state.supervisor_pid(), signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "Traceback" not in err, err
    assert _gone(state)
    for mark in (folder / "ran").iterdir():
        if mark.name != ".keep":
            mark.unlink()
    try:
        r = nk("lstart", "-d", str(folder), timeout=300)
        assert r.returncode == 0, r.stderr
        ran = sorted(x.name for x in (folder / "ran").iterdir() if x.name != ".keep")
        assert ran == sorted(f"m{i}" for i in range(N))
    finally:
        nk("lcrash", "-d", str(folder))
    assert _gone(state)


@pytest.mark.parametrize("sig", ["TERM", "HUP"])
def test_supervisor_stops_its_lab_at_once_on_sigterm_and_sighup(make_lab, sig):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "sleep 1000 &\n"})
    assert nk("lstart", "-d", str(folder)).returncode == 0
    state = StateDir.for_lab(folder)
    t0 = time.monotonic()
    os.kill(state.supervisor_pid(), getattr(signal, f"SIG{sig}"))
    assert _gone(state) and time.monotonic() - t0 < 3
    r = nk("vcmd", "-d", str(folder), "pc1", "true")
    assert r.returncode == 1 and "no lab is running" in r.stderr and "Traceback" not in r.stderr
    assert nk("lclean", "-d", str(folder)).returncode == 0


def test_two_lstarts_at_once_boot_the_lab_once_and_both_tell_the_truth(make_lab):
    """The second lstart joins the first (the lab's lock and a start request that waits for
    machines still booting): every startup runs exactly once, both end with the lab running."""
    folder = make_lab({"lab.conf": "".join(f"m{i}[0]=A\n" for i in range(20)), "ran/.keep": "",
                       "shared.startup": "sleep 0.5; echo x >> /hostlab/ran/$(hostname)\n"})
    a, b = _cli(folder, "lstart"), _cli(folder, "lstart")
    (_, err_a), (_, err_b) = a.communicate(timeout=120), b.communicate(timeout=120)
    try:
        assert (a.returncode, b.returncode) == (0, 0), (err_a, err_b)
        assert "Traceback" not in err_a + err_b and "user namespace" not in err_a + err_b
        marks = {x.name: x.read_text() for x in (folder / "ran").iterdir() if x.name != ".keep"}
        assert len(marks) == 20 and set(marks.values()) == {"x\n"}, marks
    finally:
        nk("lcrash", "-d", str(folder))


def test_a_second_lstart_while_booting_waits_and_tells_the_truth(make_lab):
    folder = _marking_lab(make_lab, 10)
    a = _cli(folder, "lstart")
    state = StateDir.for_lab(folder)
    assert wait_for(lambda: state.is_live() and state.sock.exists(), timeout=30)
    try:
        r = nk("lstart", "-d", str(folder), timeout=120)
        a.communicate(timeout=120)
        assert r.returncode == 0 and a.returncode == 0, r.stderr
        ran = sorted(x.name for x in (folder / "ran").iterdir() if x.name != ".keep")
        assert len(ran) == 10
    finally:
        nk("lcrash", "-d", str(folder))


def test_more_interfaces_on_a_domain_than_a_bridge_holds_is_refused_up_front(make_lab):
    folder = make_lab({"lab.conf": "".join(f"m{i}[0]=A\n" for i in range(1024))})
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 1 and "'A' has 1024 interfaces" in r.stderr and "at most 1023" in r.stderr, r.stderr
    assert not StateDir.for_lab(folder).path.exists()


def test_machine_names_are_checked_at_every_door(make_lab, started, tmp_path):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    for bad in ("../../x", "a/b", "..", "", "x" * 70, "-x"):
        with pytest.raises(UserError):
            lab.vstart(bad, {0: "A"})
        with pytest.raises(UserError):
            lab.run(bad, "true")
    for bad in ("../d", "a b", "x" * 65):
        with pytest.raises(UserError):
            lab.vstart("ok", {0: bad})
    # the supervisor checks too, whatever a client sends
    client = EngineClient(StateDir.for_lab(lab.directory))  # raw requests, as a hostile client sends them
    with pytest.raises(UserError):
        client.call(messages.VStart("../../escape", {"0": "A"}))
    with pytest.raises(UserError):
        client.call(messages.Exec("../x", "true"))
    assert not (StateDir.for_lab(lab.directory).path.parent / "escape").exists()
    assert not (tmp_path.parent / "escape").exists()
    r = nk("vstart", "-d", str(lab.directory), "../../y", "--eth0=A")
    assert r.returncode == 1 and "invalid machine name" in r.stderr


def test_ethN_none_unplugs_in_the_cli_as_in_jupyter(make_lab, started):
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc1[1]=B\n"}))
    assert nk("vconfig", "-d", str(lab.directory), "pc1", "--eth1=none").returncode == 0
    assert "eth1" not in lab.run("pc1", "ip -br link").stdout
    assert all(d.name != "none" for d in lab.topology().domains)


def test_escape_sequences_from_a_lab_never_reach_the_terminal(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc1[bogus\x1b]2;owned\x07]=1\npc1[0]=A \x1b[2Jx\n"})
    r = nk("lstart", "-d", str(folder))
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr, repr(r.stderr)
    assert "\\x1b" in r.stderr
    nk("lcrash", "-d", str(folder))
    (folder / "lab.conf").write_text("pc1[0]=A\n")
    (folder / "pc1.startup").write_text("printf 'boom\\033]0;title\\007\\n'; sleep 30\n")
    r = nk("lstart", "-d", str(folder), "--timeout", "1")  # a failed startup: its log is shown
    try:
        assert r.returncode == 1 and "boom" in r.stderr and "\x1b" not in r.stderr, repr(r.stderr)
    finally:
        nk("lcrash", "-d", str(folder))


def test_a_symlinked_lab_conf_is_refused_and_not_echoed(make_lab, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("password=hunter2\n")
    folder = make_lab({"pc1/.keep": ""})
    os.symlink(secret, folder / "lab.conf")
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 1 and "symlink" in r.stderr and "hunter2" not in r.stderr + r.stdout, r.stderr


def test_a_deep_lab_dep_chain_works(make_lab):
    n = 1500
    from nk_jupyter import labconf
    folder = make_lab({"lab.conf": "".join(f"m{i}[0]=D{i % 3}\n" for i in range(n)),
                       "lab.dep": "".join(f"m{i}: m{i + 1}\n" for i in range(n - 1))})
    lab = labconf.load_lab(folder)
    levels = lab.boot_levels()
    assert len(levels) == n and levels[0] == [f"m{n - 1}"]
    (folder / "lab.dep").write_text("".join(f"m{i}: m{i + 1}\n" for i in range(n - 1)) + f"m{n - 1}: m0\n")
    r = nk("linfo", "-d", str(folder))
    assert r.returncode == 1 and "cycle" in r.stderr and "Traceback" not in r.stderr


def test_a_text_lab_with_a_file_where_a_folder_is_needed_is_a_clear_error():
    with pytest.raises(UserError, match="pc1/etc/hosts"):
        Lab.from_text("pc1[0]=A\n", files={"pc1": "oops\n", "pc1/etc/hosts": "x\n"}, name="clash")


def test_a_template_build_killed_midway_leaves_nothing(make_lab):
    """A CLI killed while it built the template leaves .building-PID: the next lstart removes it."""
    stale = state_root() / ".building-999999"
    (stale / "etc").mkdir(parents=True)
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    r = nk("lstart", "-d", str(folder))
    try:
        assert r.returncode == 0, r.stderr
        assert not list(state_root().glob(".building-*"))
    finally:
        nk("lcrash", "-d", str(folder))


def test_a_startup_past_its_timeout_is_stopped_not_left_running(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\n",
                       "pc1.startup": "while true; do date +%s%N > /hostlab/alive; sleep 0.05; done\n"})
    r = nk("lstart", "-d", str(folder), "--timeout", "1")
    try:
        assert r.returncode == 1 and "did not finish within 1 s" in r.stderr, r.stderr
        first = (folder / "alive").read_text()
        time.sleep(0.5)
        assert (folder / "alive").read_text() == first, "the startup kept running after its timeout"
    finally:
        nk("lcrash", "-d", str(folder))
