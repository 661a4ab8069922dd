"""Machines on container images (lab.conf `m[image]=...`), from the user's rootless podman.

Images are built here (`podman import` of a busybox-static root filesystem): no registry is
reached. tests/registries.conf (set for every test in tests/conftest.py) blocks docker.io and
localhost, so a pull of a missing image fails at once, on this machine.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from nk_jupyter import Lab, api
from nk_jupyter.errors import UserError

from ..conftest import nk
from ..images import IMAGE, KATHARA, NOSHELL, OTHER, build_images, needs_podman, podman

pytestmark = needs_podman


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    yield from build_images(tmp_path_factory.mktemp("images"))


MIXED = {
    "lab.conf": """
        a[0]=A
        a[image]="localhost/nktest-bb:1"
        a[env]="COLOUR=blue"
        a[sysctl]="net.ipv4.ip_forward=1"
        k[0]=A
        k[image]="kathara/nktest-base"
        h[0]=A
    """,
    "a.startup": "ip addr add 10.0.0.1/24 dev eth0\nhttpd -h /var/www\necho started > /root/started\n",
    "k.startup": "ip addr add 10.0.0.3/24 dev eth0\n",
    "h.startup": "ip addr add 10.0.0.2/24 dev eth0\n",
    "a/etc/motd": "from the machine folder\n",
    "shared/etc/lab-wide": "from shared\n",
}


def _podman_processes() -> list[str]:
    """podman processes of this user other than podman's own pause process (it holds podman's
    user namespace between commands, whoever runs them)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.stat(f"/proc/{p}").st_uid != os.getuid():
                continue
            argv = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv).decode(errors="replace")
        if ("podman" in text or "conmon" in text or "runc" in text) and "catatonit" not in text and "pytest" not in text:
            out.append(f"{p} {text[:100]}")
    return out


def _no_podman_leftovers() -> None:
    deadline = time.monotonic() + 15
    while _podman_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _podman_processes() == []
    assert podman("ps", "-a", "-q").stdout.strip() == ""
    assert podman("unshare", "podman", "image", "mount").stdout.strip() == ""


def test_a_mixed_lab_boots_and_image_machines_are_machines(images, make_lab, started):
    lab, result = started(make_lab(MIXED))
    assert result.ok, result
    assert _podman_processes() == [], "podman is needed only while the lab is prepared"
    info = {m.name: m for m in lab.info()}
    assert (info["a"].backend, info["a"].image) == ("podman", "localhost/nktest-bb:1")
    assert (info["k"].backend, info["h"].backend) == ("podman", "namespaces")
    # the image's files, not the host's: busybox's sh, the image's marker, no host python
    a = lab.run("a", "cat /etc/image-marker; readlink /bin/sh; test -e /usr/bin/python3 || echo no-python")
    assert a.stdout.split() == ["one", "/bin/busybox", "no-python"], a
    assert lab.run("h", "test -e /etc/image-marker || echo host").stdout.strip() == "host"
    # lab.conf semantics: machine folder and shared/ over /, /hostlab, /shared, env, sysctls
    a = lab.run("a", "cat /etc/motd /etc/lab-wide; echo $(ls /hostlab); echo $COLOUR $GREETING; "
                     "cat /proc/sys/net/ipv4/ip_forward; hostname; cat /root/started")
    assert a.ok, a
    lines = a.stdout.splitlines()
    assert lines[:2] == ["from the machine folder", "from shared"]
    assert "lab.conf" in lines[2] and "a.startup" in lines[2]
    assert lines[3:] == ["blue from-the-image", "1", "a", "started"]
    # one collision domain for all three, and a daemon of the image serving the host machine
    for src, dst in (("a", "10.0.0.2"), ("h", "10.0.0.1"), ("k", "10.0.0.1"), ("h", "10.0.0.3")):
        assert lab.run(src, f"ping -c1 -W2 {dst}").ok, (src, dst)
    got = lab.run("h", "wget -qO- http://10.0.0.1/index.html || curl -s http://10.0.0.1/index.html")
    assert "served from the image" in got.stdout, got
    # the topology says which machines are on images
    views = {m.name: m for m in lab.topology().machines}
    assert views["a"].image == "localhost/nktest-bb:1" and not views["h"].image


def test_cli_commands_work_on_an_image_machine(images, make_lab):
    folder = make_lab(MIXED)
    r = nk("lstart", "-d", str(folder))
    try:
        assert r.returncode == 0, r.stderr
        r = nk("vcmd", "-d", str(folder), "a", "--", "cat", "/etc/image-marker")
        assert (r.returncode, r.stdout) == (0, "one\n"), r.stderr
        r = subprocess.run([os.sys.executable, "-m", "nk_jupyter", "vconnect", "-d", str(folder), "a"],
                           input="echo $0 on $(hostname)\nexit\n", capture_output=True, text=True, timeout=60)
        assert "on a" in r.stdout, r
        r = nk("linfo", "-d", str(folder))
        assert "[localhost/nktest-bb:1]" in r.stdout and "[kathara/nktest-base]" in r.stdout, r.stdout
        # halt keeps a machine's files, on its image; a new start finds them
        assert nk("vcmd", "-d", str(folder), "a", "--", "sh", "-c", "echo kept > /etc/note").returncode == 0
        assert nk("lhalt", "-d", str(folder)).returncode == 0
        _no_podman_leftovers()
        assert nk("lstart", "-d", str(folder)).returncode == 0
        r = nk("vcmd", "-d", str(folder), "a", "--", "cat", "/etc/note")
        assert r.stdout == "kept\n", r
        # another image under the same name: the kept files do not fit it; said, and dropped
        assert nk("lhalt", "-d", str(folder)).returncode == 0
        podman("tag", OTHER, IMAGE)
        r = nk("lstart", "-d", str(folder))
        assert r.returncode == 0 and "its image changed since it was halted" in r.stderr, r.stderr
        r = nk("vcmd", "-d", str(folder), "a", "--", "sh", "-c", "cat /etc/image-marker; cat /etc/note")
        assert r.stdout == "two\n" and "No such file" in r.stderr, r
    finally:
        nk("lcrash", "-d", str(folder))
        podman("tag", podman("image", "inspect", "--format", "{{.Id}}", KATHARA).stdout.strip(), IMAGE)
    _no_podman_leftovers()


def test_image_policies(images, make_lab, started):
    conf = "a[0]=A\na[image]=\"localhost/nktest-bb:1\"\nb[0]=A\nb[image]=\"kathara/not-here\"\n"
    folder = make_lab({"lab.conf": conf})
    # podman: a missing image is an error naming machine and image; nothing is started
    with pytest.raises(UserError) as e:
        Lab.from_dir(folder).start(images="podman")
    assert "machine(s) b" in str(e.value) and "docker.io/kathara/not-here:latest" in str(e.value)
    assert not Lab.from_dir(folder).running
    assert all(r.directory != folder for r in api.running_labs())
    # auto (the default): b runs on the host's programs, with one line saying why and how
    events = []
    lab, result = started(folder, progress=events.append)
    assert result.ok
    said = " ".join(e.message for e in events if type(e).__name__ == "WarningEvent")
    assert "machine(s) b run on the host's programs" in said and "podman pull docker.io/kathara/not-here" in said
    assert any(type(e).__name__ == "PullEvent" and "not-here" in e.image for e in events)
    assert lab.run("b", "test -x /usr/bin/python3 && echo host").stdout.strip() == "host"
    assert lab.run("a", "cat /etc/image-marker").stdout.strip() == "one"
    lab.crash()
    # host: images are ignored
    lab, result = started(folder, images="host")
    assert lab.run("a", "test -e /etc/image-marker || echo host").stdout.strip() == "host"
    assert {m.name: m.backend for m in lab.info()} == {"a": "namespaces", "b": "namespaces"}


def test_bad_images_are_clear_errors(images, make_lab, tmp_path):
    bad = make_lab({"lab.conf": "a[0]=A\na[image]=\"Kathara/FRR\"\n"}, name="badname")
    r = nk("lstart", "-d", str(bad))
    assert r.returncode != 0 and "lab.conf:2: a[image]" in r.stderr and "lower case" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    noshell = make_lab({"lab.conf": f"a[0]=A\na[image]=\"{NOSHELL}\"\n"}, name="noshell")
    r = nk("lstart", "-d", str(noshell))
    assert r.returncode != 0 and "machine(s) a" in r.stderr and "has no /bin/sh" in r.stderr, r.stderr
    assert not Lab.from_dir(noshell).running
    # no podman on PATH: auto says so and runs the machine on host programs; podman is an error
    bindir = tmp_path / "bin-without-podman"
    bindir.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        for f in os.listdir(d) if os.path.isdir(d) else ():
            if f != "podman" and not (bindir / f).exists():
                os.symlink(f"{d}/{f}", bindir / f)
    env = {**os.environ, "PATH": str(bindir)}
    ok = make_lab({"lab.conf": f"a[0]=A\na[image]=\"{IMAGE}\"\n"}, name="nopodman")
    run = lambda *a: subprocess.run([os.sys.executable, "-m", "nk_jupyter", *a], capture_output=True, text=True,
                                    timeout=120, env=env)
    r = run("lstart", "-d", str(ok), "--images=podman")
    assert r.returncode != 0 and "podman is not installed" in r.stderr and "apt install podman" in r.stderr, r.stderr
    r = run("lstart", "-d", str(ok))
    try:
        assert r.returncode == 0 and "podman is not installed" in r.stderr, r.stderr
    finally:
        run("lcrash", "-d", str(ok))


def test_sandbox_holds_on_image_machines(images, make_lab, started):
    lab, result = started(make_lab({"lab.conf": f"a[0]=A\na[image]=\"{IMAGE}\"\n", "a/etc/x": "x\n"}))
    assert result.ok
    # nk's read-only files stay read-only, and cannot be remounted or unmounted
    r = lab.run("a", "echo x > /run/nk/share/bashenv; echo x > /run/nk/bin/systemctl; "
                     "mount -o remount,bind,rw /run/nk/share && echo REMOUNTED; "
                     "umount /run/nk/bin && echo UNMOUNTED; mount -o remount,rw / && echo ROOTRW; true")
    assert "REMOUNTED" not in r.stdout and "UNMOUNTED" not in r.stdout, r
    assert r.stderr.count("Read-only file system") >= 2, r
    # writes anywhere under / are the machine's own: the image keeps its files
    assert lab.run("a", "rm -f /bin/busybox.x; echo changed > /etc/image-marker; rm /etc/passwd").ok
    other, _ = started(make_lab({"lab.conf": f"b[0]=A\nb[image]=\"{IMAGE}\"\n"}, name="second"))
    assert other.run("b", "cat /etc/image-marker; cat /etc/passwd").stdout.splitlines() == \
        ["one", "root:x:0:0:root:/root:/bin/sh"]
    # the image's tree (below the machine's overlay root) is not reachable from the machine
    r = lab.run("a", "grep -o 'lowerdir=[^,]*' /proc/self/mountinfo | head -1")
    lower = r.stdout.strip().split("=", 1)[1]
    assert "/.images/" in lower, r
    r = lab.run("a", f"ls {lower} || echo unreachable")
    assert r.stdout.strip() == "unreachable", r


def test_no_podman_leftovers_after_crash_kill_and_wipe(images, make_lab):
    folder = make_lab(MIXED)
    assert nk("lstart", "-d", str(folder)).returncode == 0
    assert nk("lcrash", "-d", str(folder)).returncode == 0
    _no_podman_leftovers()
    assert nk("lstart", "-d", str(folder)).returncode == 0
    from nk_jupyter.engine.launch import our_supervisors
    from nk_jupyter.engine.statedir import StateDir
    pids = our_supervisors(str(StateDir.for_lab(folder).path))
    assert pids
    for pid in pids:  # the first one's death takes the others (PDEATHSIG)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    _no_podman_leftovers()
    assert nk("wipe").returncode == 0
    _no_podman_leftovers()
    assert not Lab.from_dir(folder).running


def test_a_lab_folder_is_never_on_the_helpers_python_path(images, make_lab, tmp_path):
    """Attack: the lab ships nk_jupyter/ and socket.py; the user runs `nk lstart` from inside it
    (Netkit's habit). Neither the supervisor nor the podman mount helper may import them."""
    proof = tmp_path / "pwned"
    payload = f"open({str(proof)!r}, 'a').write(__name__ + '\\n')\n"
    folder = make_lab({"lab.conf": f'a[0]=A\na[image]="{IMAGE}"\nb[0]=A\n',
                       "nk_jupyter/__init__.py": payload, "nk_jupyter/backends/__init__.py": payload,
                       "socket.py": payload, "subprocess.py": payload, "json.py": payload})
    from pathlib import Path
    script = Path(os.sys.executable).with_name("nk")  # the user's `nk` (python -m would import the lab's own)
    r = subprocess.run([str(script), "lstart"], cwd=folder, capture_output=True, text=True, timeout=120)
    try:
        assert r.returncode == 0, r.stderr
        assert nk("vcmd", "-d", str(folder), "a", "--", "cat", "/etc/image-marker").stdout == "one\n"
    finally:
        nk("lcrash", "-d", str(folder))
    assert not proof.exists(), f"the lab's code ran as the user: {proof.read_text()}"


def test_ltest_on_an_image_machine(images, make_lab):
    """nk ltest on an image machine: its test script (no shebang) runs by sh where the image has
    no bash, the results are signed, and a second run compares OK."""
    folder = make_lab({"lab.conf": f'a[0]=A\na[image]="{IMAGE}"\nb[0]=A\n',
                       "a.startup": "ip addr add 10.0.0.1/24 dev eth0\n",
                       "b.startup": "ip addr add 10.0.0.2/24 dev eth0\n",
                       "_test/a.test": "ping -c1 -W2 10.0.0.2 | grep -c 'bytes from'\ncat /etc/image-marker\n"})
    r = nk("ltest", "-d", str(folder), "-S", timeout=300)
    assert r.returncode == 0 and "[SIGN] a" in r.stdout, r.stdout + r.stderr
    assert (folder / "_test" / "results" / "a.user").read_text() == "1\none\n"
    r = nk("ltest", "-d", str(folder), "-S", timeout=300)
    assert r.returncode == 0 and "[ OK ] a" in r.stdout, r.stdout + r.stderr
