"""A machine's cgroup folder from its last run (linux/cgroups.py, _clear): the processes of a
killed machine end asynchronously (the kernel tears its namespaces down first), and until they
have, the folder cannot be removed. The next start of the machine kills what is left (cgroup
v2) or waits for it to end, rather than fail with "File exists"."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nk_jupyter.linux import cgroups

ROOTS = [(var, Path(os.environ[var])) for var in ("NK_CGROUP", "NK_CGROUP_MEMORY") if os.environ.get(var)]


def _in_cgroup(folder: Path, code: str) -> subprocess.Popen:
    """A Python process running code, moved into folder (a child of ours joins it first)."""
    p = subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.stdin.readline(); {code}"],
                         stdin=subprocess.PIPE, text=True)
    (folder / "cgroup.procs").write_text(str(p.pid))
    p.stdin.write("go\n")
    p.stdin.flush()
    return p


@pytest.mark.skipif(not ROOTS, reason="no delegated cgroup (NK_CGROUP): scripts/cgroup-delegate.sh makes one")
@pytest.mark.parametrize("var,root", ROOTS, ids=[var for var, _ in ROOTS])
def test_a_machine_s_busy_cgroup_from_its_last_run_is_emptied_before_it_starts_again(var, root):
    folder = root / f"lab-test{os.getpid()}" / "m" / "pc1"
    (folder / "leaf").mkdir(parents=True)
    try:
        killable = (folder / "cgroup.kill").exists()  # (cgroup v2 on Linux 5.14+)
        # a process that would outlive the wait without cgroup.kill, or ends by itself soon
        p = _in_cgroup(folder / "leaf", "time.sleep(60)" if killable else "time.sleep(0.3)")
        assert (folder / "leaf" / "cgroup.procs").read_text().split() == [str(p.pid)]
        t0 = time.monotonic()
        cgroups._clear(folder)
        took = time.monotonic() - t0
        assert not folder.exists()
        assert p.wait(timeout=5) == (-9 if killable else 0)
        assert took < cgroups.CLEAR_TIMEOUT
    finally:
        subprocess.run(["find", str(folder.parent.parent), "-depth", "-type", "d", "-exec", "rmdir", "{}", "+"],
                       stderr=subprocess.DEVNULL)
