"""Bad input stops before anything starts; in-place edits stay inside the node; nothing leaks."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from nk_jupyter.engine.launch import our_supervisors as our_processes
from nk_jupyter.engine.statedir import StateDir

from ..conftest import nk


def _mounts() -> int:
    return len(Path("/proc/self/mountinfo").read_text().splitlines())


def test_malformed_lab_conf_names_file_and_line_and_starts_nothing(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=Apc3[0]=B\n"})
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 1
    assert "lab.conf:2" in r.stderr and "Traceback" not in r.stderr
    assert not StateDir.for_lab(folder).path.exists()


def test_dependency_cycle_is_an_error(make_lab):
    folder = make_lab({"lab.conf": "a[0]=X\nb[0]=X\n", "lab.dep": "a: b\nb: a\n"})
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 1 and "lab.dep" in r.stderr and "cycle" in r.stderr


def test_in_place_edits_of_host_files_stay_in_the_node(make_lab, started):
    before = Path("/etc/hosts").read_bytes()
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    lab.run("pc1", "echo '10.0.0.9 far' >> /etc/hosts && sed -i 's/far/away/' /etc/hosts").check()
    assert "10.0.0.9 away" in lab.run("pc1", "cat /etc/hosts").stdout
    assert lab.run("pc1", "echo x > /var/www/html/index.html 2>/dev/null || echo x > /var/www/x").status == 0
    assert Path("/etc/hosts").read_bytes() == before


def test_symlinks_in_a_lab_cannot_write_outside(make_lab, started, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1/etc/": ""})
    os.symlink(victim, folder / "pc1" / "etc" / "evil")
    os.symlink(str(victim.parent), folder / "pc1" / "outside")
    lab, _ = started(folder)
    lab.run("pc1", "echo owned > /etc/evil; echo owned > /outside/victim.txt; "
                   f"echo owned > {victim}").status
    assert victim.read_text() == "untouched\n"


def test_nothing_left_after_lhalt_lcrash_and_sigkill(make_lab):
    mounts = _mounts()
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "sleep 1000 &\n"})
    state = StateDir.for_lab(folder)
    for stop in ("lhalt", "lcrash"):
        assert nk("lstart", "-d", str(folder)).returncode == 0
        assert nk(stop, "-d", str(folder)).returncode == 0
        assert our_processes(str(state.path)) == [] and _mounts() == mounts
    assert not state.path.exists()
    assert nk("lstart", "-d", str(folder)).returncode == 0
    os.kill(state.supervisor_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while our_processes(str(state.path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert our_processes(str(state.path)) == []
    assert not _sleepers(), "node processes survived the supervisor"
    assert state.path.exists()  # the orphaned state folder is there for `nk wipe` to find
    assert nk("lclean", "-d", str(folder)).returncode == 0
    assert not state.path.exists() and _mounts() == mounts
    from nk_jupyter.linux.cgroups import Delegation, run_folder
    d = Delegation.find()  # (with a delegated cgroup: the killed run's folders went with lclean)
    left = [f for p in (d.v2, d.v1_memory) if p for f in p.glob(run_folder(state.path.name, "*"))]
    assert left == [], left


def _sleepers() -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00":
                    out.append(pid)
            except OSError:
                pass
    return out


def test_a_running_lab_stays_reachable_when_its_lab_conf_breaks(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    assert nk("lstart", "-d", str(folder)).returncode == 0
    with open(folder / "lab.conf", "a") as f:
        f.write("this is not lab.conf syntax\n")
    r = nk("vcmd", "-d", str(folder), "pc1", "hostname")
    assert (r.returncode, r.stdout) == (0, "pc1\n")
    assert nk("lcrash", "-d", str(folder)).returncode == 0
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 1 and "lab.conf:2" in r.stderr


def test_the_user_namespace_helper_is_nk_s_static_program_holding_only_its_pipe():
    """The helper that makes a user namespace (for U2, and in each init for the machine's) is
    nk's static nk-userns, already exec'd when the Unsharer returns: no copy of its parent
    (whose every page written meanwhile would be copied again), nothing of the parent's but the
    release pipe; released, it is gone. A descriptor it is given to join comes back closed."""
    from nk_jupyter import helpers
    from nk_jupyter.linux import ns
    helper = ns.Unsharer(ns.CLONE_NEWUSER | ns.CLONE_NEWNET, 0, 64)
    try:
        assert os.readlink(f"/proc/{helper.pid}/exe") == os.path.realpath(helpers.path("nk-userns"))
        assert os.readlink(f"/proc/{helper.pid}/ns/user") != os.readlink("/proc/self/ns/user")
        assert os.readlink(f"/proc/{helper.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert sorted(os.listdir(f"/proc/{helper.pid}/fd")) == ["0"]  # the release pipe, nothing else
        for name, text in (("uid_map", f"0 {os.getuid()} 1"), ("setgroups", "deny"), ("gid_map", f"0 {os.getgid()} 1")):
            with open(f"/proc/{helper.pid}/{name}", "w") as f:
                f.write(text)
        outer = os.open(f"/proc/{helper.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        try:  # one made inside the first: joined with -j, then owned by the helper's uid
            inner = ns.Unsharer(ns.CLONE_NEWUSER, 0, 64, join=outer)
            try:
                assert sorted(os.listdir(f"/proc/{inner.pid}/fd")) == ["0"]
                assert os.readlink(f"/proc/{inner.pid}/ns/user") not in (os.readlink(f"/proc/{helper.pid}/ns/user"),
                                                                           os.readlink("/proc/self/ns/user"))
                limits = open(f"/proc/{inner.pid}/limits").read()
                assert any(line.startswith("Max processes") and line.split()[2:4] == ["64", "64"]
                           for line in limits.splitlines()), limits
            finally:
                inner.release()
        finally:
            os.close(outer)
    finally:
        helper.release()
    assert not os.path.exists(f"/proc/{helper.pid}")


def test_the_user_namespace_helper_reports_what_it_could_not_do():
    import pytest
    from nk_jupyter.linux import ns
    with pytest.raises(OSError, match="could not make a user namespace: setgroups"):
        ns.Unsharer(ns.CLONE_NEWUSER, 4000000000, 64)  # (no such uid is mapped here)


def test_nk_spawn_starts_programs_as_our_children_with_only_the_given_descriptors(tmp_path):
    """The supervisor's spawner (helpers/nk-spawn.c), driven as the supervisor drives it: what
    it starts is the caller's own child (waited for, its status ours), has exactly the given
    descriptors as 0..3 (none of the caller's many others), default signals and a new session;
    an exec that fails is that errno, its child reaped; a bad request is refused."""
    import pytest
    from nk_jupyter import helpers
    from nk_jupyter.linux import spawn
    spawner = spawn.Spawner(helpers.path("nk-spawn"))
    many = [os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC) for _ in range(200)]  # a big lab's
    r, w = os.pipe2(os.O_CLOEXEC)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        probe = ("ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; grep -E '^(SigIgn|SigBlk)' /proc/self/status;"
                 " echo sid=$(cut -d\" \" -f6 /proc/$$/stat) pid=$$ ppid=$PPID; exit 7")
        pid = spawner.spawn("/bin/sh", ["sh", "-c", probe], {"PATH": "/usr/bin:/bin"}, (null, w, w), extra=null)
        os.close(w)
        w = -1
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        _, status = os.waitpid(pid, 0)  # ours, although nk-spawn cloned it
        assert os.waitstatus_to_exitcode(status) == 7
        lines = out.decode().splitlines()
        assert lines[0].split() == ["0", "1", "2", "3", "4"], out  # (4: the listing's own)
        assert sorted(lines[1:3]) == ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"], out
        ids = dict(kv.split("=") for kv in lines[3].split())
        assert ids["sid"] == ids["pid"] == str(pid) and ids["ppid"] == str(os.getpid()), out
        with pytest.raises(FileNotFoundError):
            spawner.spawn(str(tmp_path / "no-such-program"), ["x"], {}, (null, null, null))
        assert spawn.children(os.getpid()) == [spawner.pid]  # the failed child was reaped too
        import socket
        spawner.sock.sendmsg([b"s\0/bin/true\0" + b"9\0"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                              __import__("array").array("i", [null] * 3))])
        assert spawner.sock.recv(8)[4:] == (7).to_bytes(4, "little")  # E2BIG: argc past the words
        # what nk-spawn cannot take (more words than it holds) and, once it is gone, everything,
        # is spawned here: the same child, the same status
        many_vars = {f"V{i}": "x" for i in range(9000)}
        for env in (many_vars, None):
            if env is None:
                os.kill(spawner.pid, signal.SIGKILL)
                os.waitpid(spawner.pid, 0)
            pid = spawner.spawn("/bin/sh", ["sh", "-c", "exit 5"], env or {}, (null, null, null))
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 5
        assert spawner.sock is None
    finally:
        for fd in many + [r, null] + ([w] if w >= 0 else []):
            os.close(fd)
        if spawner.sock is not None:
            spawner.sock.close()
    other = spawn.Spawner(helpers.path("nk-spawn"))  # it ends when the supervisor's end closes
    other.sock.close()
    deadline = time.monotonic() + 10
    while os.waitpid(other.pid, os.WNOHANG)[0] != other.pid:
        assert time.monotonic() < deadline, "nk-spawn outlived its socket"
        time.sleep(0.01)


_INIT_PROBE = r"""
import os, socket, sys, time
sys.path.insert(0, sys.argv[1])
from nk_jupyter import helpers
from nk_jupyter.linux import spawn
z = spawn.Spawner(helpers.path("nk-spawn"))
null = os.open(os.devnull, os.O_RDWR)
token = "nk-secret-" + os.urandom(8).hex()  # an earlier request's environment...
z.send_request("s", "/bin/true", ["true"], {"TOKEN": token}, (null, null, null))
pid, _err, _ = z.read_reply()
os.waitpid(pid, 0)
seen = b""  # ... is not in nk-spawn's memory (which every later child copies) once answered
with open(f"/proc/{z.pid}/maps") as maps, open(f"/proc/{z.pid}/mem", "rb") as mem:
    for line in maps:
        span, perms = line.split()[:2]
        if perms.startswith("rw"):
            lo, hi = (int(x, 16) for x in span.split("-"))
            mem.seek(lo)
            seen += mem.read(hi - lo)
wiped = token.encode() not in seen and len(seen) > 100000
z.send_request("x", "/bin/true", ["true"], {}, (null, null, null))
unknown = z.read_reply()
ours, theirs = socket.socketpair()
lab = os.open(sys.argv[2], os.O_PATH)
userns = os.open("/proc/self/ns/user", os.O_RDONLY)
from nk_jupyter.backends.namespaces.zygote import sealed_copy
reap = sealed_copy(helpers.path("nk-reap"))
# The init's first op joins a "cgroup" whose cgroup.procs is a FIFO: it waits in that open
# until we read, so we can look at it meanwhile (as root of the user namespace it was made in,
# we may, though it is not dumpable).
gate = os.path.join(sys.argv[2], "gate")
os.mkdir(gate)
os.mkfifo(os.path.join(gate, "cgroup.procs"))
z.send_request("z", "nk-init", ["nk-init", "name", "probe", "cgroup", gate], {}, (null, theirs.fileno(), lab, userns, reap))
z.send_request("z", "/bin/sh", ["sh"], {}, (null, theirs.fileno(), lab, userns, reap))  # only nk-init is run
first, second = z.read_reply(), z.read_reply()
theirs.close()
pid = first[0]
pidfd_pid = [ln.split()[1] for ln in open(f"/proc/self/fdinfo/{first[2]}") if ln.startswith("Pid:")]
for _ in range(500):  # until it waits in the FIFO's open
    if open(f"/proc/{pid}/wchan").read() == "wait_for_partner":
        break
    time.sleep(0.01)
fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
nspid = [ln.split()[1:] for ln in open(f"/proc/{pid}/status") if ln.startswith("NSpid:")][0]
comm = open(f"/proc/{pid}/comm").read().strip()
with open(os.path.join(gate, "cgroup.procs")) as f:  # let it go on: its plan ends without "rooted"
    wrote = f.read()
out = b""
while chunk := ours.recv(4096):
    out += chunk
try:
    os.waitpid(pid, os.WNOHANG)
    ours_child = True
except ChildProcessError:
    ours_child = False
print(repr((pid > 0, first[1], second, ours_child, (nspid[-1], stat[3] == str(pid), comm, fds, wrote),
            out[4:].decode(errors="replace"), os.readlink("/proc/self/ns/user"), pidfd_pid == [str(pid)], wiped,
            unknown)))
"""


def test_nk_spawn_starts_a_machine_init_as_pid_1_of_new_namespaces_with_its_descriptors(tmp_path):
    """The zygote's request (flag "z"), made as the supervisor makes it (as root of a user
    namespace of our own): nk's init runs (without an exec) as pid 1 of a new pid namespace,
    named nk-init, leads its session, has /dev/null, its socket, the lab folder, the user
    namespace and nk-reap's sealed copy as 0-2, 3, 4, 5, 6 and nothing else, carries out its
    plan and reports on its socket, and is nk-spawn's child (not ours: the kernel reaps it), its pidfd sent with the answer. Any
    other program is refused. Requests are answered in order, an unknown flag is refused, and no
    request's bytes stay in nk-spawn's memory once answered (each later child is a copy of it)."""
    import ast
    import subprocess
    import sys
    probe = tmp_path / "probe.py"
    probe.write_text(_INIT_PROBE)
    root = str(Path(__file__).resolve().parents[2])
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-P", str(probe), root,
                        str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ok, err, second, our_child, seen, said, userns, its_pidfd, wiped, unknown = ast.literal_eval(r.stdout.strip())
    assert wiped, "an earlier request's environment is still in nk-spawn's memory"
    assert unknown == (0, 22, None)  # EINVAL: a request flag it does not know
    assert second == (0, 22, None), r.stdout  # "z" runs nk's init and nothing else
    assert ok and err == 0 and not our_child, r.stdout
    assert its_pidfd, r.stdout  # the answer carries a pidfd of that very init
    pid_there, leads, comm, fds, wrote = seen
    assert pid_there == "1" and leads and comm == "nk-init", seen
    assert sorted(fds) == [0, 1, 2, 3, 4, 5, 6], seen  # and nothing else
    assert fds[0] == fds[1] == fds[2] == "/dev/null", seen
    assert fds[3].startswith("socket:") and fds[4] == str(tmp_path) and fds[5] == userns, seen
    assert fds[6].startswith("/memfd:nk-reap"), seen  # the lab's sealed copy of its pid 1
    assert wrote == "0", seen  # it joined the "cgroup" (its first op) ...
    assert "the plan has no rooted op" in said, said  # ... and told us why it stopped


def _proc(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read().decode(errors="replace")


def _stat(pid: int) -> list[str]:
    return _proc(pid, "stat").rsplit(")", 1)[1].split()  # (state, ppid, pgrp, session, ...)


def test_nk_spawn_does_nk_enter_s_work_itself_and_the_command_gets_what_it_got(make_lab, started):
    """A command in a machine goes through nk-spawn's "e" request: its child does nk-enter's work
    without exec'ing nk-enter. Looked at from the host: between the supervisor and the command
    is one process, still nk-spawn's program (its argv), named nk-enter, leading its own session
    in the lab's pid namespace (not the machine's); the command leads its own in the machine's.
    What the command sees and returns is as before: its environment, /root, its status, and
    nk-enter's 127 for a program the machine lacks."""
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    lab, _ = started(folder)
    stream = lab.exec("pc1", "exec sleep 987.5")
    try:
        pid = 0
        for _ in range(200):
            found = [int(p) for p in os.listdir("/proc") if p.isdigit()
                     and _safe(lambda p=p: _proc(int(p), "cmdline")) == "sleep\0" + "987.5\0"]
            if found:
                pid = found[0]
                break
            time.sleep(0.02)
        assert pid, "the command never showed up"
        waiter = int(_stat(pid)[1])
        assert _proc(waiter, "cmdline") == "nk-spawn\0" and _proc(waiter, "comm").strip() == "nk-enter"
        nspid = {p: [ln for ln in _proc(p, "status").splitlines() if ln.startswith("NSpid:")][0].split()[1:]
                 for p in (pid, waiter)}
        assert len(nspid[waiter]) == 2 and len(nspid[pid]) == 3, nspid  # host, lab (, machine)
        assert _stat(waiter)[3] == str(waiter) and _stat(pid)[3] == str(pid)  # each leads a session
        core = [ln.split()[4:6] for ln in _proc(waiter, "limits").splitlines() if ln.startswith("Max core")]
        assert core == [["0", "0"]], core  # the status it relays may be a signal: it dumps nothing
    finally:
        stream.signal("KILL")
    assert stream.wait() != 0
    r = lab.run("pc1", "pwd; echo $HOME $PATH; exit 4")
    assert r.status == 4 and r.stdout.splitlines()[0] == "/root" and r.stdout.split()[1] == "/root", r
    running, master = lab.terminal("pc1", ["/no/such/program"], (24, 80))
    try:
        assert running.wait() == 127
        assert b"nk-enter: cannot run /no/such/program" in _read_all(master)
    finally:
        os.close(master)


def _safe(fn):
    try:
        return fn()
    except OSError:
        return None


def _read_all(master: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            return out
        if not chunk:
            return out
        out += chunk


def test_a_machine_s_pid_1_is_nk_reap_holding_nothing_of_its_init(make_lab, started):
    """What the init execs at the end (helpers/nk-reap.c), as machine root sees it: nk-reap with
    no argument, no environment, only /dev/null open and little memory of its own (nothing of
    the init, nor of the nk-spawn it was a clone of, is left in the process machine root may
    ptrace); it reaps the orphans that come to it, drops INT, HUP and USR1, and TERM ends it
    and so the machine."""
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}))
    r = lab.run("pc1", "tr '\\0' '|' < /proc/1/cmdline; echo; wc -c < /proc/1/environ; ls -l /proc/1/fd | "
                       "awk 'NR > 1 {print $9, $11}'; grep -E '^(Pss_Anon|Private_Dirty):' /proc/1/smaps_rollup")
    lines = r.stdout.splitlines()
    assert lines[0] == "nk-reap|" and lines[1] == "0", r.stdout  # argv, and an empty environment
    assert lines[2:5] == ["0 /dev/null", "1 /dev/null", "2 /dev/null"] and lines[5].startswith("Pss_Anon"), r.stdout
    dirty = int(lines[6].split()[1])
    assert dirty <= 256, r.stdout  # KiB: musl's nk-reap ~12, the GNU C library's ~110 (its start-up's own pages)
    r = lab.run("pc1", "for i in 1 2 3; do (sleep 0.05 &); done; sleep 0.5; "
                       "kill -INT 1; kill -HUP 1; kill -USR1 1; sleep 0.1; ps -eo stat= | grep -c '^Z'; echo up")
    assert r.stdout.split() == ["0", "up"], r.stdout  # the orphans are gone, not zombies; pid 1 lives
    assert lab.run("pc1", "kill -TERM 1; sleep 5").status != 0
    states = {m.name: m.state.value for m in lab.info()}
    assert states == {"pc1": "crashed", "pc2": "running"}, states

def test_a_machine_s_own_busybox_never_runs_as_nk_s_helper(make_lab):
    """The attack on the helper above: a machine whose disk holds a /usr/bin/busybox of its own
    (copied from its folder at first boot, kept by lhalt) boots again and again while the host's
    cores are busy. Had the helper exec'd busybox by path late, after its init pivoted into the
    machine's root, the machine's program would run in nk's place while the root is built."""
    import subprocess
    names = [f"pc{i}" for i in range(8)]
    fake = "#!/bin/sh\necho ran >> /root/helper-ran\nexec cat\n"
    folder = make_lab({"lab.conf": "".join(f"{n}[0]=A\n" for n in names),
                       **{f"{n}/usr/bin/busybox": fake for n in names}})
    for n in names:
        (folder / n / "usr" / "bin" / "busybox").chmod(0o755)
    d = str(folder)
    burners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
    try:
        assert nk("lstart", "-d", d).returncode == 0
        for _ in range(3):
            assert nk("lhalt", "-d", d).returncode == 0
            r = nk("lstart", "-d", d)
            assert r.returncode == 0, r.stderr
        for n in names:
            r = nk("vcmd", "-d", d, n, "head -1 /usr/bin/busybox; cat /root/helper-ran 2>/dev/null; true")
            assert r.stdout == "#!/bin/sh\n", (n, r.stdout)  # its own busybox is there, and never ran
    finally:
        for b in burners:
            b.kill()
            b.wait()
        nk("lcrash", "-d", d)


def test_an_id_map_that_cannot_be_written_is_named_and_both_tools_are_reaped():
    """newuidmap and newgidmap run at once: the one that fails is named with the fix, and
    neither is left behind (here: a process that never made a user namespace of its own)."""
    import pytest
    import subprocess
    from nk_jupyter.errors import HostSetupError
    from nk_jupyter.linux import spawn
    from nk_jupyter.linux.idmap import current_idmap
    idmap = current_idmap()
    if not idmap.full:
        pytest.skip("this user has no sub-ID range (or no newuidmap/newgidmap)")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(HostSetupError, match=r"newuidmap failed: .*check /etc/subuid and that newuidmap is setuid"):
            idmap.apply(sleeper.pid)
        assert spawn.children(os.getpid()) == [sleeper.pid]
    finally:
        sleeper.kill()
        sleeper.wait()
