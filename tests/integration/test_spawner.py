"""The supervisor's spawner asked ahead (linux/spawn.py spawn_soon), with the real nk-spawn:
a boot asks for each startup without waiting for nk-spawn's answer; the answers must reach
the right callers, in order, and a spawner that dies must fail what it owed, not hang."""
from __future__ import annotations

import os
import signal
import time

from nk_jupyter import helpers
from nk_jupyter.engine.loop import Loop
from nk_jupyter.linux import spawn


def _end(spawner: spawn.Spawner) -> None:
    """Close the spawner's socket and reap it (it ends with its socket): it leaves no child."""
    if spawner.sock is not None:
        spawner.sock.close()
    try:
        os.waitpid(spawner.pid, 0)
    except ChildProcessError:
        pass


def _status(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_answers_asked_ahead_reach_their_callers_in_order_and_a_plain_spawn_waits_its_turn(tmp_path):
    spawner = spawn.Spawner(helpers.path("nk-spawn"))
    nested: list[int] = []

    def asks_again(pid: int | OSError) -> None:  # a caller that spawns from its callback, and one that fails
        nested.append(pid)
        nested.append(spawner.spawn("/bin/sh", ["sh", "-c", "exit 9"], {}, (null, null, null)))
        raise RuntimeError("a caller's bug")
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        got: list[tuple[int, int | OSError]] = []
        n = spawner.OWED * 2 + 5  # more than may be owed: some are read while the others are asked for
        for i in range(n):
            spawner.spawn_soon("/bin/sh", ["sh", "-c", f"exit {i}"], {}, (null, null, null),
                               lambda pid, i=i: got.append((i, pid)))
            assert len(spawner.waiting) <= spawner.OWED
        spawner.spawn_soon(str(tmp_path / "no-such-program"), ["x"], {}, (null, null, null),
                           lambda pid: got.append((-1, pid)))
        spawner.spawn_soon("/bin/true", ["true"], {}, (null, null, null), asks_again)
        late = spawner.spawn("/bin/sh", ["sh", "-c", "exit 3"], {}, (null, null, null))
        assert len(nested) == 2 and _status(nested[0]) == 0 and _status(nested[1]) == 9  # (its bug was logged)
        assert not spawner.waiting  # a spawn() takes every earlier answer first
        assert [i for i, _ in got] == list(range(n)) + [-1]
        for i, pid in got[:-1]:
            assert isinstance(pid, int) and _status(pid) == i  # each caller got its own child
        assert isinstance(got[-1][1], FileNotFoundError)  # the failed exec's errno, its child reaped
        assert _status(late) == 3
        assert spawn.children(os.getpid()) == [spawner.pid]
    finally:
        os.close(null)
        _end(spawner)


def test_a_loop_hands_the_answers_over_and_a_spawner_that_dies_fails_what_it_owed():
    spawner = spawn.Spawner(helpers.path("nk-spawn"))
    loop = Loop()
    spawner.watch(loop.add_reader, loop.remove_reader)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    got: list[int | OSError] = []
    try:
        for _ in range(3):
            spawner.spawn_soon("/bin/true", ["true"], {}, (null, null, null), got.append)
        deadline = time.monotonic() + 10
        while len(got) < 3:  # the loop reads them when nk-spawn's socket is readable
            assert time.monotonic() < deadline, got
            for key, _ in loop.sel.select(1):
                key.data()
        assert all(isinstance(p, int) and _status(p) == 0 for p in got)
        # asked while nk-spawn is stopped, then it is killed: nothing it owed started
        os.kill(spawner.pid, signal.SIGSTOP)
        for _ in range(2):
            spawner.spawn_soon("/bin/true", ["true"], {}, (null, null, null), got.append)
        os.kill(spawner.pid, signal.SIGKILL)
        os.waitpid(spawner.pid, 0)
        deadline = time.monotonic() + 10
        while len(got) < 5:
            assert time.monotonic() < deadline, got
            for key, _ in loop.sel.select(1):
                key.data()
        assert all(isinstance(e, OSError) and "nk-spawn is gone" in str(e) for e in got[3:]), got
        assert spawner.sock is None and not loop.sel.get_map()  # no longer watched: the loop cannot spin on it
        spawner.spawn_soon("/bin/sh", ["sh", "-c", "exit 4"], {}, (null, null, null), got.append)
        assert _status(got[5]) == 4  # from then on spawned here, answered at once
        # a spawner that ends owing nothing: the loop stops watching it (it would spin on the EOF)
        again = spawn.Spawner(helpers.path("nk-spawn"))
        again.watch(loop.add_reader, loop.remove_reader)
        os.kill(again.pid, signal.SIGKILL)
        os.waitpid(again.pid, 0)
        for key, _ in loop.sel.select(5):
            key.data()
        assert again.sock is None and not loop.sel.get_map()
    finally:
        os.close(null)
        _end(spawner)


def test_machines_crashed_while_their_startups_are_being_asked_for_say_crashed(make_lab, started):
    """A fast start answers before the startups have begun; crashing half the machines at once
    must leave them crashed (a startup answered later does not make them booting or running)
    and the others running with their startups done."""
    n = 40
    folder = make_lab({"lab.conf": "".join(f"pc{i}[0]=A\n" for i in range(n)),
                       **{f"pc{i}.startup": f"ip addr add 10.0.{i}.1/16 dev eth0\n" for i in range(n)}})
    lab, result = started(folder, fast=True)
    gone = [f"pc{i}" for i in range(0, n, 2)]
    lab.crash(gone)
    deadline = time.monotonic() + 30
    while True:
        states = {m.name: str(m.state) for m in lab.info()}
        if all(states[f"pc{i}"] == "running" for i in range(1, n, 2)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {states[m] for m in gone} == {"crashed"}, states
    assert all(states[f"pc{i}"] == "running" for i in range(1, n, 2)), states
    for i in range(1, n, 2):
        assert f"10.0.{i}.1/16" in lab.run(f"pc{i}", "ip -o addr show dev eth0").check().stdout
    time.sleep(0.5)  # (anything answered late has been handled by now)
    assert {str(m.state) for m in lab.info() if m.name in gone} == {"crashed"}
    nodes = lab._state.path / "nodes"  # (their files went with the crash: their next boot is a first one)
    assert not [m for m in gone if (nodes / m / ".configured").exists()]
