"""Escapes from a machine to the account of the user who runs the lab (issue #7, classes 1-4, 6)."""
from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


from ..conftest import nk
from .conftest import wait_for

ATTACKER = Path(__file__).with_name("attacker.py")


def _attack_lab(make_lab, seconds: float, mode: str, target: Path) -> Path:
    folder = make_lab({
        "lab.conf": "pc1[0]=A\npc2[0]=A\n",
        "pc1.startup": f"python3 /hostlab/attacker.py {seconds} {mode} {target} >/hostlab/attacker.err 2>&1 &\n",
        "pc1.shutdown": "true\n",
    })
    shutil.copy(ATTACKER, folder / "attacker.py")
    return folder


def _stats(folder: Path) -> dict:
    return json.loads((folder / "attack.json").read_text())


def test_a_daemon_cannot_take_namespaces_or_fds_of_what_nk_starts(make_lab, started, home_canary):
    """CVE-2016-9962's class: every process nk starts in a machine (vcmd, API exec, terminals,
    shutdown scripts) is watched from inside and probed before and after it execs."""
    folder = _attack_lab(make_lab, 20, "probe", home_canary)
    lab, _ = started(folder)
    assert wait_for(lambda: (folder / "attack.json").exists())
    for i in range(60):  # at least 15 rounds; more while the attacker has seen too few (a loaded host)
        assert nk("vcmd", "-d", str(folder), "pc1", "true").returncode == 0
        assert lab.run("pc1", f"sleep 0.05; echo {i}").stdout == f"{i}\n"
        running, master = lab.terminal("pc1", ["/bin/sh", "-c", "exit 0"], (24, 80))
        assert running.wait() == 0
        os.close(master)
        if i >= 14 and _stats(folder)["pids"] >= 30:
            break
    lab.halt(["pc1"])  # its shutdown script is started in the machine too
    stats = _stats(folder)
    assert stats["pids"] >= 30, stats          # the attacker really saw what nk started,
    assert stats["early"] > 0, stats           # ... some before they ran the command (the window)
    assert stats["ns_opened"] > 0, stats       # ... and opened their namespaces: all the machine's own
    assert stats["setns_foreign"] == 0 and stats["escaped"] == 0, stats
    assert not (folder / "attacker.err").read_text().strip()


def test_a_daemon_that_freezes_new_processes_does_not_freeze_the_lab(make_lab, started, home_canary):
    """SIGSTOP of every new process in pc1: pc1's own commands hang, nothing else does."""
    folder = _attack_lab(make_lab, 15, "stop", home_canary)
    lab, _ = started(folder)
    assert wait_for(lambda: (folder / "attack.json").exists())
    stuck = []
    for _ in range(20):  # `true` lives for a millisecond: the daemon may miss one, never all
        stuck.append(subprocess.Popen([sys.executable, "-m", "nk_jupyter", "vcmd", "-d", str(folder), "pc1", "true"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if wait_for(lambda: _stats(folder)["stopped"] > 0, timeout=1):
            break
    assert _stats(folder)["stopped"] > 0
    t0 = time.monotonic()
    assert lab.run("pc2", "echo alive").stdout == "alive\n"
    assert lab.info()[0].name in ("pc1", "pc2")
    assert time.monotonic() - t0 < 5
    lab.crash()
    assert any(code != 0 for code in [p.wait(timeout=10) for p in stuck])  # the one it caught hung till the crash
    assert _stats(folder)["escaped"] == 0


def test_read_only_host_views_are_locked(make_lab, started):
    """Every mount a machine did not make itself keeps its flags: remounting read-write (nk's
    shims at /run/nk), unmounting to see what is below, or re-binding and remounting all fail."""
    lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
    script = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND, MS_RDONLY, MNT_DETACH = 32, 4096, 1, 2
tried = broke = 0
for line in open("/proc/self/mountinfo"):
    f = line.split()
    point, opts = f[4], f[5].split(",")
    if "ro" in opts and point not in ("/sys",):
        tried += 1
        if libc.mount(None, point.encode(), None, MS_REMOUNT | MS_BIND, None) == 0:
            broke += 1; print("REMOUNTED", point)
    if point not in ("/", "/proc", "/sys") and libc.umount2(point.encode(), MNT_DETACH) == 0:
        broke += 1; print("UNMOUNTED", point)
os.makedirs("/tmp/again", exist_ok=True)
if libc.mount(b"/run/nk", b"/tmp/again", None, MS_BIND, None) == 0:
    if libc.mount(None, b"/tmp/again", None, MS_REMOUNT | MS_BIND, None) == 0:
        broke += 1; print("REBOUND RW")
print("tried", tried, "broke", broke)
"""
    r = lab.run("pc1", f"python3 -c '{script}'")
    assert r.status == 0, r.stderr
    tried = int(r.stdout.split()[-3])
    assert tried >= 1 and r.stdout.strip().endswith("broke 0"), r.stdout
    assert "Read-only file system" in lab.run("pc1", "touch /run/nk/bin/x").stderr
    # /usr is the machine's own copy-on-write view: writes stay in the machine
    assert lab.run("pc1", "touch /usr/nk-x").status == 0 and not os.path.exists("/usr/nk-x")


def test_shared_swapped_for_a_symlink_by_a_running_machine(make_lab, started, home_canary):
    """A running machine keeps replacing /hostlab/shared with a symlink to the user's home while
    more machines start: none of them gets the home as /shared."""
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "shared/inside.txt": "lab's own\n",
                       "pc1.startup": f"""
                       (while true; do
                          mv /hostlab/shared /hostlab/real 2>/dev/null; ln -sfn {home_canary} /hostlab/shared
                          rm -f /hostlab/shared; mv /hostlab/real /hostlab/shared 2>/dev/null
                        done) >/dev/null 2>&1 &
                       """})
    lab, _ = started(folder)
    for i in range(8):
        lab.vstart(f"v{i}", {0: "A"})
        seen = lab.run(f"v{i}", "ls -A /shared; touch /shared/from-v").stdout.split()
        assert "keep.txt" not in seen, f"v{i} got the home as /shared: {seen}"
    lab.crash()
    assert not (home_canary / "from-v").exists()


def test_the_users_terminal_never_enters_a_machine(make_lab, started):
    """nk vcmd on a terminal: the machine sees pipes, a daemon left behind cannot write to the
    terminal after vcmd returned nor read what is typed there."""
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    started(folder)
    master, slave = pty.openpty()
    cmd = ("ls -l /proc/self/fd/ >/hostlab/fds.txt; "
           "(sleep 1; echo LATE; cat > /hostlab/stolen.txt) </dev/stdin >/dev/stdout 2>&1 &")
    proc = subprocess.run([sys.executable, "-m", "nk_jupyter", "vcmd", "-d", str(folder), "pc1", cmd],
                          stdin=slave, stdout=slave, stderr=slave, timeout=30)
    assert proc.returncode == 0
    os.write(master, b"secret typed at the shell\n")
    time.sleep(2.0)
    os.set_blocking(master, False)
    try:
        seen = os.read(master, 65536)
    except BlockingIOError:
        seen = b""
    os.close(master)
    os.close(slave)
    fds = (folder / "fds.txt").read_text()
    assert "pts" not in fds and "tty" not in fds and "pipe:" in fds, fds
    assert b"LATE" not in seen
    stolen = folder / "stolen.txt"
    assert not stolen.exists() or "secret" not in stolen.read_text()


def test_commands_and_startups_get_no_descriptor_of_ours(make_lab, started):
    probe = ("import os\n"
             "fds = []\n"
             "for f in os.listdir('/proc/self/fd'):\n"
             "    try: fds.append((int(f), os.readlink('/proc/self/fd/' + f)))\n"
             "    except OSError: pass  # the listing's own descriptor, closed by now\n"
             "print(sorted(fds))\n")
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "probe.py": probe,
                       "pc1.startup": "python3 /hostlab/probe.py > /hostlab/startup-fds.txt\n"})
    lab, _ = started(folder)
    r = lab.run("pc1", "python3 /hostlab/probe.py")
    assert r.status == 0, r.stderr
    for text, ours in ((r.stdout, (0, 1, 2)), ((folder / "startup-fds.txt").read_text(), (0, 2))):
        fds = dict(eval(text))  # the list of (fd, link) pairs printed by probe.py
        assert set(fds) <= {0, 1, 2}, fds
        for fd in ours:  # (the startup sends its stdout to a file of its own)
            assert fds[fd].startswith("pipe:") or fds[fd] == "/dev/null", fds


def test_a_machine_sees_no_host_folder_but_programs_and_reaches_no_host_socket(make_lab, started, tmp_path):
    """Unix sockets the user has in host folders (temp folders included), and abstract ones,
    are out of a machine's reach; so are the host folders that are not programs."""
    servers = []
    paths = [tmp_path / "agent.sock", Path(f"/var/tmp/nk-test-{os.getpid()}.sock"),
             Path(f"/dev/shm/nk-test-{os.getpid()}.sock")]
    for p in paths:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(p))
        s.listen()
        servers.append(s)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0nk-test-{os.getpid()}")
    abstract.listen()
    servers.append(abstract)
    try:
        lab, _ = started(make_lab({"lab.conf": "pc1[0]=A\n"}))
        targets = [str(p) for p in paths] + [f"@nk-test-{os.getpid()}"]
        script = ("import socket, sys\n"
                  "for t in sys.argv[1:]:\n"
                  "    s = socket.socket(socket.AF_UNIX)\n"
                  "    try:\n"
                  "        s.connect(t.replace('@', '\\0', 1) if t.startswith('@') else t); print('CONNECTED', t)\n"
                  "    except OSError as e: print('refused', t, e.errno)\n")
        (lab.directory / "connect.py").write_text(script)
        r = lab.run("pc1", "python3 /hostlab/connect.py " + " ".join(targets))
        assert "CONNECTED" not in r.stdout and r.stdout.count("refused") == len(targets), r.stdout + r.stderr
        top = set(lab.run("pc1", "ls /").stdout.split())
        host_only = {p.name for p in Path("/").iterdir()} - top
        assert {"usr", "etc", "var", "tmp", "root", "home", "hostlab", "shared"} <= top
        assert not top - {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "var", "opt", "root", "home",
                          "srv", "tmp", "run", "mnt", "media", "hostlab", "shared", "proc", "sys", "dev"}, top
        assert "boot" not in top and Path("/boot").exists() <= ("boot" in host_only)
        assert lab.run("pc1", "ls -A /home /root /srv /mnt").stdout.split() == ["/home:", "/mnt:", "/root:", "/srv:"]
    finally:
        for s in servers:
            s.close()
        for p in paths:
            p.unlink(missing_ok=True)


def test_hostlab_cannot_be_left_by_moving_a_folder_under_a_process(make_lab, started, home_canary):
    """pc1 sits in /shared/deep while pc2 moves that folder out of shared/ (but still in the lab):
    walking up from there must not leave the lab folder."""
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "shared/deep/x/.keep": ""})
    lab, _ = started(folder)
    out = {}

    def climb():
        out["r"] = lab.run("pc1", "cd /shared/deep/x && sleep 1.5 && cd ../../../../../../.. && pwd && ls -A")
    t = threading.Thread(target=climb)
    t.start()
    time.sleep(0.5)
    assert lab.run("pc2", "mv /hostlab/shared/deep /hostlab/moved").status == 0
    t.join()
    listing = out["r"].stdout.split()
    assert home_canary.name not in listing and Path.home().name not in listing and "keep.txt" not in listing, listing


def test_a_lab_environment_never_reaches_our_own_programs(make_lab, started, tmp_path):
    """lab.conf env= LD_PRELOAD with a library of the lab's: it may act inside the machine, never
    in nk's own processes (which see the host)."""
    if not shutil.which("gcc"):
        import pytest
        pytest.skip("gcc is needed to build the library")
    marker = tmp_path / "OWNED"
    lib = tmp_path / "evil.so"
    src = tmp_path / "evil.c"
    src.write_text('#include <stdio.h>\n__attribute__((constructor)) static void own(void) '
                   f'{{ FILE *f = fopen("{marker}", "a"); if (f) {{ fputs("x\\n", f); fclose(f); }} }}\n')
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    folder = make_lab({"lab.conf": f'pc1[0]=A\npc1[env]="LD_PRELOAD={lib}"\npc1[env]="GCONV_PATH={tmp_path}"\n',
                       "pc1.startup": "echo $LD_PRELOAD > /hostlab/seen\n"})
    lab, _ = started(folder)
    assert (folder / "seen").read_text().strip() == str(lib)  # the machine has its environment
    assert lab.run("pc1", "printenv LD_PRELOAD").stdout.strip() == str(lib)
    assert nk("vcmd", "-d", str(folder), "pc1", "true").returncode == 0
    lab.halt()
    assert not marker.exists(), "the lab's library ran outside the machine"


def test_no_keys_and_no_setuid_files_for_machines(make_lab, started):
    probe = ("import ctypes, os\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "r = libc.syscall(250 if os.uname().machine == 'x86_64' else 219, 0, -3, 0)\n"  # KEYCTL_GET_KEYRING_ID @s
             "print('keyctl', r, ctypes.get_errno())\n"
             "print('keys', repr(open('/proc/keys').read()))\n"
             "open('/hostlab/prog', 'w').close()\n"
             "for mode in (0o4755, 0o2755):\n"
             "    try: os.chmod('/hostlab/prog', mode); print('CHMOD', oct(mode))\n"
             "    except PermissionError: print('refused', oct(mode))\n"
             "try: os.close(os.open('/hostlab/prog2', os.O_CREAT | os.O_WRONLY, 0o4755)); print('mode', oct(os.stat('/hostlab/prog2').st_mode))\n"
             "except PermissionError: print('refused create')\n"
             # an unnamed file made with the mode (O_TMPFILE), then given a name
             "try:\n"
             "    fd = os.open('/hostlab', os.O_TMPFILE | os.O_WRONLY, 0o4755); print('TMPFILE', oct(os.fstat(fd).st_mode))\n"
             "    try: os.link(f'/proc/self/fd/{fd}', '/hostlab/prog3', follow_symlinks=True)\n"
             "    except OSError as e: print('no link', e)\n"
             "except PermissionError: print('refused tmpfile')\n"
             # io_uring's own openat/mkdirat never pass the filter: the ring cannot be made at all
             "params = ctypes.create_string_buffer(120)\n"
             "r = libc.syscall(425, 8, params)\n"
             "print('io_uring_setup', r, ctypes.get_errno())\n")
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "probe.py": probe})
    lab, _ = started(folder)
    out = lab.run("pc1", "python3 /hostlab/probe.py").stdout
    assert "keyctl -1 1" in out and "keys ''" in out, out
    assert "CHMOD" not in out and "TMPFILE" not in out and out.count("refused") == 4, out
    assert "io_uring_setup -1 38" in out, out  # ENOSYS
    assert not (folder / "prog").stat().st_mode & 0o6000
    assert not (folder / "prog3").exists()
    assert lab.run("pc1", "chmod 755 /hostlab/prog && chmod g+w /hostlab/prog").status == 0  # plain modes work


def test_a_machine_s_pid_1_cannot_make_a_setuid_file_for_its_root(make_lab, started):
    """Machine root ptraces its pid 1 (nk-reap: exec'd as machine root, so it may) and injects
    chmod 4755 on a shell it copied into /hostlab: pid 1 is under the same filter as the rest of
    the lab, so the lab folder never gets a file that runs as the user. A plain chmod injected the
    same way works (the attack itself runs)."""
    import platform
    import pytest
    if platform.machine() != "x86_64":
        pytest.skip("the injector speaks x86_64")
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    shutil.copy(Path(__file__).with_name("inject.py"), folder / "inject.py")
    lab, _ = started(folder)
    assert lab.run("pc1", "cp /bin/sh /hostlab/sh; chmod 700 /hostlab/sh").ok
    control = lab.run("pc1", "python3 /hostlab/inject.py /hostlab/sh 755")
    assert control.stdout.strip() == "0", control
    assert (folder / "sh").stat().st_mode & 0o7777 == 0o755  # pid 1 really did chmod
    attack = lab.run("pc1", "python3 /hostlab/inject.py /hostlab/sh 4755")
    assert attack.stdout.strip() == str(-1), attack  # -EPERM from the filter
    assert not (folder / "sh").stat().st_mode & 0o6000
    assert lab.run("pc1", "grep -E '^Seccomp:' /proc/1/status").stdout.split() == ["Seccomp:", "2"]
    assert lab.run("pc1", "true").ok  # pid 1 goes on as before


_PID1_ATTACK = r"""
import os
for name, act in (("chmod", lambda: os.chmod("/proc/1/exe", 0o644)), ("chmod-rw", lambda: os.chmod("/proc/1/exe", 0o111)), ("xattr", lambda: os.setxattr("/proc/1/exe", "user.nk", b"x")),
                  ("utime", lambda: os.utime("/proc/1/exe", (1, 1))), ("write", lambda: open("/proc/1/exe", "ab").write(b"x"))):
    try:
        act()
        print(name, "done")
    except OSError as e:
        print(name, e.errno)
"""


def test_machine_root_cannot_reach_its_pid_1_s_program_on_the_host(make_lab, tmp_path):
    """nk installed where the user owns it (a venv of their own, an editable checkout): machine
    root, whose uid is the user's, reaches its pid 1's program past every mount through
    /proc/1/exe and tries to chmod, set an xattr on, touch and append to it. All of that lands
    on the lab's sealed copy (zygote.sealed_copy): nk's nk-reap on the host is as it was, so no
    later lab runs what a lab left there, and the copy cannot be written or lose its exec bits,
    so the lab's next machine still starts."""
    import nk_jupyter
    pkg = tmp_path / "pkg"
    shutil.copytree(Path(nk_jupyter.__file__).parent, pkg / "nk_jupyter", ignore=shutil.ignore_patterns("labextension"))
    reap = pkg / "nk_jupyter" / "helpers" / "nk-reap"
    os.chmod(reap, 0o755)
    before = reap.stat()
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "attack.py": _PID1_ATTACK})
    script = (f"import sys; sys.path.insert(0, {str(pkg)!r})\n"
              "import nk_jupyter\n"
              f"assert nk_jupyter.__file__.startswith({str(pkg)!r}), nk_jupyter.__file__\n"
              "from nk_jupyter import Lab\n"
              f"lab = Lab.from_dir({str(folder)!r})\n"
              "lab.start(['pc1'], timeout=120)\n"
              "try:\n"
              "    print(lab.run('pc1', 'readlink /proc/1/exe; python3 /hostlab/attack.py').stdout)\n"
              "    print('pc2', lab.start(['pc2'], timeout=120).failed, lab.run('pc2', 'cat /proc/1/comm').stdout)\n"
              "finally:\n"
              "    lab.crash()\n")
    r = subprocess.run([sys.executable, "-P", "-c", script], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].startswith("/memfd:nk-reap"), r.stdout  # no file of the host's
    assert "write done" not in r.stdout, r.stdout  # (sealed, and busy: nobody writes it)
    assert "chmod 1" in r.stdout, r.stdout  # EPERM: its exec bits are sealed
    assert "pc2 [] nk-reap" in r.stdout, r.stdout  # the next machine runs the same copy
    after = reap.stat()
    assert (after.st_mode, after.st_size, after.st_mtime_ns) == (before.st_mode, before.st_size, before.st_mtime_ns), r.stdout
    assert os.listxattr(reap) == [], r.stdout

def test_a_machine_cannot_use_up_the_users_inotify_instances(make_lab, started):
    host = int(Path("/proc/sys/user/max_inotify_instances").read_text())
    probe = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nn = 0\n"
             f"while n < {host} and libc.inotify_init() >= 0:\n    n += 1\nprint(n)\n")
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "probe.py": probe})
    lab, _ = started(folder)
    got = int(lab.run("pc1", "python3 /hostlab/probe.py").stdout)
    assert got <= host // 2, (got, host)
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init()  # the user still has some
    assert fd >= 0
    os.close(fd)


def test_a_machines_control_strings_never_reach_the_terminal(make_lab, started):
    """OSC 52 (clipboard write), titles, DCS from vcmd output on a terminal are dropped; colours pass."""
    folder = make_lab({"lab.conf": "pc1[0]=A\n"})
    started(folder)
    master, slave = pty.openpty()
    cmd = r"printf 'a\033]52;c;aGVsbG8=\007b\033]0;title\007c\033P+q\033\\d\033[31me\033[0m\n'"
    proc = subprocess.run([sys.executable, "-m", "nk_jupyter", "vcmd", "-d", str(folder), "pc1", cmd],
                          stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, timeout=30)
    os.close(slave)
    seen = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.returncode == 0
    assert b"]52" not in seen and b"title" not in seen and b"\x1bP" not in seen, seen
    assert b"abcd\x1b[31me\x1b[0m" in seen, seen


def test_a_lab_repository_is_read_only_in_machines(make_lab, started):
    folder = make_lab({"lab.conf": "pc1[0]=A\n", ".git/config": "[core]\n", ".git/hooks/.keep": ""})
    lab, _ = started(folder)
    r = lab.run("pc1", "echo '[core] fsmonitor = touch /tmp/x' >> /hostlab/.git/config; "
                       "echo evil > /hostlab/.git/hooks/post-checkout")
    assert r.status != 0 and "Read-only file system" in r.stderr, r
    assert (folder / ".git" / "config").read_text() == "[core]\n"
    assert lab.run("pc1", "echo fine > /hostlab/notes.txt").status == 0


def test_a_startup_launched_after_a_fast_start_answered_gets_dev_null_not_a_descriptor_of_ours(make_lab):
    """A fast start answers at once; startups that wait for others (lab.dep) are launched later.
    Each gets /dev/null as its stdin: never a number the supervisor has meanwhile reused (a
    pidfd of another machine's command, a client's socket), which would cross into the machine."""
    n = 12
    files = {"lab.conf": "".join(f"pc{i}[0]=A\n" for i in range(n)),
             "lab.dep": "".join(f"pc{i}: pc0\n" for i in range(1, n)),
             "pc0.startup": "sleep 1\n"}
    for i in range(1, n):
        files[f"pc{i}.startup"] = f"readlink /proc/self/fd/0 > /hostlab/pc{i}.stdin\n"
    folder = make_lab(files)
    assert nk("lstart", "-d", str(folder), "--fast").returncode == 0
    try:
        seen = {}
        deadline = time.monotonic() + 30
        while len(seen) < n - 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            for i in range(1, n):
                f = folder / f"pc{i}.stdin"
                if f.exists() and f.read_text().strip():
                    seen[i] = f.read_text().strip()
        assert len(seen) == n - 1, seen
        assert set(seen.values()) == {"/dev/null"}, seen
    finally:
        nk("lcrash", "-d", str(folder))
