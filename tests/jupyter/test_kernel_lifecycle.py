"""Kernel shutdown, restart and SIGKILL leave no process of the kernel's labs behind;
labs started outside the kernel are left alone and can be attached after a restart."""
from __future__ import annotations

import os
import signal

import pytest

from nk_jupyter.engine.statedir import all_states

from .conftest import Kernel, needs_labs, start_kernel, wait_until

CELL = "%%lab {name}\npc1[0]=A\npc2[0]=A\n--- pc1.startup ---\nsleep 1000 &\n"


def _ppid_and_start(pid: int) -> tuple[int, str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[19]


def lab_processes(name: str) -> set[tuple[int, str]]:
    """(pid, start time) of the supervisor of text lab `name` and all its descendants."""
    roots = [s.supervisor_pid() for s in all_states()
             if s.is_live() and s.read_json().get("directory", "").endswith(f"/text-labs/{name}")]
    table = {int(p): _ppid_and_start(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    found: set[tuple[int, str]] = set()
    todo = [p for p in roots if p]
    while todo:
        pid = todo.pop()
        if table.get(pid) is None:
            continue
        found.add((pid, table[pid][1]))
        todo += [child for child, info in table.items() if info and info[0] == pid]
    return found


def alive(procs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    return {(pid, start) for pid, start in procs if (_ppid_and_start(pid) or (0, None))[1] == start}


def boot(kernel: Kernel, name: str) -> set[tuple[int, str]]:
    out = kernel.run(CELL.format(name=name))
    assert f"Lab '{name}' started: 2 of 2" in Kernel.text(out), out
    procs = lab_processes(name)
    assert len(procs) >= 4, procs  # supervisor, its pid 1, two nodes, sleep
    return procs


@needs_labs
@pytest.mark.parametrize("how", ["shutdown", "restart", "sigkill"])
def test_kernel_exit_leaves_no_lab_process(jupyter_env, how):
    kernel = start_kernel()
    name = f"life-{how}"
    try:
        procs = boot(kernel, name)
        if how == "shutdown":
            kernel.km.shutdown_kernel(now=False)
        elif how == "restart":
            kernel.km.restart_kernel(now=False)
        else:
            os.kill(kernel.pid, signal.SIGKILL)
        assert wait_until(lambda: not alive(procs), timeout=20), alive(procs)
        if how == "restart":
            kernel.kc.wait_for_ready(timeout=60)
            out = kernel.run("t = %linfo --all\nprint(repr(t))")
            assert name not in Kernel.text(out)
    finally:
        kernel.kc.stop_channels()
        if kernel.km.is_alive():
            kernel.km.shutdown_kernel(now=True)


@needs_labs
def test_lab_started_outside_survives_kernel_restart(jupyter_env, tmp_path):
    from nk_jupyter.api import Lab
    lab = Lab.from_text("pc1[0]=A\n", {}, name="outside")
    lab.start()
    kernel = start_kernel()
    try:
        out = kernel.run("%lattach outside --no-topo")
        assert "Attached to lab 'outside' from" not in Kernel.text(out, "stderr")
        assert "Attached to lab 'outside' in outside (1 machines running)." in Kernel.text(out)
        kernel.km.restart_kernel(now=False)
        kernel.kc.wait_for_ready(timeout=60)
        assert lab.running
        out = kernel.run("t = %linfo --all\nprint(repr(t))")
        assert "outside" in Kernel.text(out) and "CLI / Python" in Kernel.text(out)
        out = kernel.run("%lattach outside --no-topo\n%vcmd pc1 hostname")
        assert Kernel.text(out).endswith("pc1\n")
    finally:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=True)
        assert lab.running  # still not ours
        lab.crash()
