"""A second local user must not see or reach the first user's labs.

Needs a second account the test user may act as without a password (.ci/run makes `nkci2`
and a sudoers rule `nkci ALL=(nkci2) NOPASSWD: ALL`); skipped, with the reason, elsewhere.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from nk_jupyter.engine.statedir import StateDir

OTHER = os.environ.get("NK_TEST_OTHER_USER", "nkci2")


def _as_other(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["sudo", "-n", "-u", OTHER, *argv], capture_output=True, text=True, timeout=timeout)


def _other_reason() -> str | None:
    if not shutil.which("sudo"):
        return "sudo is not installed"
    try:
        r = _as_other("true", timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"cannot act as {OTHER}: {e}"
    return None if r.returncode == 0 else f"cannot act as {OTHER} without a password: {r.stderr.strip()}"


REASON = _other_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_another_user_cannot_see_or_reach_my_lab(make_lab, started, tmp_path):
    os.chmod(tmp_path, 0o755)
    folder = make_lab({"lab.conf": "pc1[0]=A\n", "pc1.startup": "echo up > /root/up\n"})
    os.chmod(folder, 0o755)
    lab, _ = started(folder)
    state = StateDir.for_lab(folder)
    nk = [sys.executable, "-m", "nk_jupyter"]
    env = ["env", f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}"]
    # the state dir and its socket are out of reach
    r = _as_other("ls", str(state.path))
    assert r.returncode != 0 and "Permission denied" in r.stderr
    probe = ("import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX)\n"
             "try:\n    s.connect(sys.argv[1]); print('CONNECTED')\n"
             "except OSError as e: print('refused', e.errno)\n")
    r = _as_other(sys.executable, "-c", probe, str(state.sock))
    assert "CONNECTED" not in r.stdout, r.stdout
    # nk as the other user knows nothing of it
    r = _as_other(*env, *nk, "vlist")
    assert str(folder) not in r.stdout
    for verb in (["vcmd", "-d", str(folder), "pc1", "touch", "/hostlab/x"], ["lhalt", "-d", str(folder)],
                 ["lcrash", "-d", str(folder)]):
        r = _as_other(*env, *nk, *verb)
        assert r.returncode != 0 and "no lab is running" in r.stderr, (verb, r.stderr)
    # nor can it signal the lab's processes
    r = _as_other("kill", "-KILL", str(state.supervisor_pid()))
    assert r.returncode != 0
    assert lab.running and lab.run("pc1", "cat /root/up").stdout == "up\n"
    assert not (folder / "x").exists()
