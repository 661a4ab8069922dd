"""Booting machines inside the supervisor: create them, then run their startups in
lab.dep order (everything else in parallel, at most `parallel` at once if given).

A Boot streams machine events to the client that asked and answers it when every
startup has finished (or at once with `fast`). A startup that outlives its timeout is
killed and its machine marked failed, named in the answer.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Callable

from ..model.events import Event, MachineEvent, MissingEvent
from ..model.states import MachineState as S
from . import bootscript
from .logs import LogRelay
from .loop import Loop
from .messages import StartResult, StartupReport
from .runtime import LabRuntime, MachineRecord
from ..text import LazyPattern


class Boot:
    def __init__(self, rt: LabRuntime, loop: Loop, send: Callable[[Event], None], answer: Callable[[StartResult], None],
                 logs: LogRelay, devnull: int, names: list[str], fast: bool, timeout: float, parallel: int) -> None:
        self.rt, self.loop, self.send, self.answer, self.logs = rt, loop, send, answer, logs
        self.names, self.fast, self.timeout, self.parallel = names, fast, timeout, parallel
        self.waiting: dict[str, list[str]] = {}
        self.active: set[str] = set()
        self.others: set[str] = set()
        self.already: list[str] = []
        self.made: dict[str, object] = {}  # machine -> the handle this boot made it with
        self._checking = False  # a _launch_ready is scheduled
        self.finished = False
        self.creating = False
        self.devnull = devnull  # (the supervisor's: a startup launched after the answer still gets it)

    def run(self) -> None:
        self.rt.listeners.append(self.send)
        self.rt.listeners.append(self._changed)
        self.t_start = time.perf_counter()
        before = {n: self.rt.machines[n].state for n in self.names if n in self.rt.machines}
        self.already = [n for n, st in before.items() if st == S.RUNNING and self.rt.machines[n].handle]
        # startups begin as their machines are made, while the others are still being made
        to_make = {n for n in self.names if not (n in self.rt.machines and self.rt.machines[n].up)}
        self.creating = True

        def made(name: str) -> None:
            self.made[name] = self.rt.machines[name].handle
            self.waiting[name] = [d for d in self.rt.lab.dependencies.get(name, []) if d in to_make]
            self._launch_ready()
        try:
            created = self.rt.create(self.names, on_ready=made)
        except BaseException:
            self.creating = False
            self._stop_hearing(self.send, self._changed)
            raise
        self.creating = False
        self.t_created = time.perf_counter()
        # machines another start request is still booting: this one answers once they are done
        self.others = {n for n in self.names if n not in created and self.rt.machines[n].state.starting}
        if self.others:
            self.rt.listeners.append(self._other_done)
        if self.fast:
            self._launch_ready()
            self._finish()
        elif not created and not self.others:
            self._finish()
        else:
            self._launch_ready()

    def _other_done(self, event: Event) -> None:
        if isinstance(event, MachineEvent) and not event.state.starting:
            self.others.discard(event.machine)
            if not self.others and not self.waiting and not self.active and not self.finished:
                self._finish()

    def _launch_ready(self) -> None:
        for name in list(self.waiting):
            if name not in self.waiting:  # started meanwhile (a startup that could not start returns at once)
                continue
            if self.parallel and len(self.active) >= self.parallel:
                return
            if all(self._over(d) for d in self.waiting[name]):
                del self.waiting[name]
                rec = self.rt.machines[name]
                if rec.state != S.CREATED or rec.handle is not self.made[name]:  # stopped (or made again
                    continue                                                    # by another boot) meanwhile
                self.active.add(name)
                start_machine(self.rt, self.loop, self.logs, rec, self.timeout, self.devnull,
                              lambda n=name: self._done(n))
        self._unlisten()
        if not self.waiting and not self.active and not self.others and not self.fast and not self.creating:
            self._finish()

    def _over(self, name: str) -> bool:
        """Is what lab.dep waits for in machine name over: its boot settled, or the machine this
        boot made stopped (an old state of one not made yet is not)?"""
        st = self.rt.machines[name].state
        return st.settled or (st in STOPPED and name in self.made)

    def _stop_hearing(self, *listeners: Callable[[Event], None]) -> None:
        for fn in listeners:
            if fn in self.rt.listeners:
                self.rt.listeners.remove(fn)

    def _unlisten(self) -> None:
        if not self.waiting and not self.creating:  # (nothing waits)
            self._stop_hearing(self._changed)

    def _changed(self, event: Event) -> None:
        """A machine's boot settled or it stopped, not through this boot (another boot made it
        again; a halt or a crash): what waits here goes on, or is dropped (after the turn: the
        change is still being carried out)."""
        if self.waiting and not self._checking and isinstance(event, MachineEvent) \
                and (event.state.settled or event.state in STOPPED) \
                and (event.machine in self.waiting or any(event.machine in deps for deps in self.waiting.values())):
            self._checking = True
            self.loop.call_later(0, self._check)

    def _check(self) -> None:
        self._checking = False
        self._launch_ready()

    def _done(self, name: str) -> None:
        self.active.discard(name)
        self._launch_ready()

    def _finish(self) -> None:
        if self.finished:  # (a startup that could not start returns at once: _launch_ready nests)
            return
        self.finished = True
        self._stop_hearing(self.send, self._other_done)
        self._unlisten()
        bad = [n for n in self.names if self.rt.machines[n].state == S.FAILED]
        now = time.perf_counter()
        timing = dict(self.rt.timing, startups=now - self.t_created, total=now - self.t_start)
        startups = {n: StartupReport(rec.startup_status, rec.first_error, dict(rec.missing))
                    for n in self.names for rec in [self.rt.machines[n]] if rec.startup_status or rec.missing}
        self.answer(StartResult(machines=self.names, failed=bad, already_running=self.already, timing=timing,
                               details={n: self.rt.machines[n].detail for n in bad}, startups=startups))


STOPPED = (S.HALTING, S.HALTED, S.CRASHED)  # (with RUNNING and FAILED: what lab.dep no longer waits for)
MISSING = LazyPattern(r"nk: (\S+): not installed on this host \(Debian package: (\S+)\)")
NOT_FOUND = LazyPattern(r"(?:^|: )(?:line \d+: |\d+: )?([\w.+-]+): (?:command )?not found$")


def start_machine(rt: LabRuntime, loop: Loop, logs: LogRelay, ms: MachineRecord, timeout: float, devnull: int,
                  then: Callable[[], None]) -> None:
    """Run a machine's startup (bootscript.py) with its output in its log; then() when it ends.

    Its stderr is watched on the way: the first line is kept as the startup's first error, and
    programs it lacked (bash names them with their Debian package) are kept for the summary."""
    m = ms.machine
    marker = rt.state.node_dir(m.name) / ".configured"
    log_path = rt.state.startup_log(m.name)
    ms.first_error, ms.missing = "", {}

    def on_err(line: str) -> None:
        text = line.strip()
        if text and not ms.first_error and not text.startswith("+"):
            ms.first_error = text[:300]
        named, lacking = MISSING.search(text), NOT_FOUND.search(text)  # bash's / dash's words
        if named:
            ms.missing[named.group(1)] = named.group(2)
        elif lacking and package_of(lacking.group(1)):
            ms.missing.setdefault(lacking.group(1), package_of(lacking.group(1)))
    try:
        out, err = logs.pipe(log_path), logs.pipe(log_path, on_err)
    except OSError as e:
        rt.set_state(ms, S.FAILED, f"cannot open its startup log: {e.strerror}")
        return then()
    handle = ms.handle
    timed_out_after, timer = [], []

    def started(proc: int | OSError) -> None:  # (nk-spawn's answer: the supervisor did not wait for it)
        if isinstance(proc, OSError):  # e.g. EAGAIN: the lab (or the user) is out of processes
            if ms.handle is handle and ms.state == S.CREATED:
                rt.set_state(ms, S.FAILED, f"cannot start its startup: {proc.strerror}")
            return then()

        def timed_out() -> None:
            handle.signal(proc, signal.SIGKILL)  # the startup leads its own session: kill it, not only nk-enter
            timed_out_after.append(timeout)
        try:
            loop.watch_child(proc, exited)
        except OSError as e:  # (e.g. out of descriptors: a startup nobody watches does not run)
            handle.signal(proc, signal.SIGKILL)
            os.waitpid(proc, 0)
            return started(e)
        if ms.handle is handle and ms.state == S.CREATED:  # (not stopped meanwhile)
            rt.set_state(ms, S.BOOTING)
        timer.append(loop.call_later(timeout, timed_out))

    def exited(code: int) -> None:
        loop.cancel(timer[0])
        out.drain()
        err.drain()
        if ms.handle is handle or (ms.handle is None and not ms.files_dropped):  # (crashed meanwhile: its
            marker.parent.mkdir(parents=True, exist_ok=True)                       # files are gone, its next
            marker.touch()                                                         # boot is a first one)
        ms.startup_status = code
        ms.booted_at = time.time()
        if code:
            logs.note(log_path, f"nk: the startup of {m.name} exited with status {code}\n")
        if ms.missing:
            rt.emit(MissingEvent(m.name, dict(ms.missing)))
        if ms.handle is not handle or ms.state != S.BOOTING:  # (halted or crashed meanwhile: it says so)
            pass
        elif timed_out_after:
            rt.set_state(ms, S.FAILED, f"startup did not finish within {timeout:g} s")
        elif handle.alive():
            why = f": {ms.first_error}" if ms.first_error else ""
            rt.set_state(ms, S.RUNNING, "" if code == 0 else f"startup exited with status {code}{why}")
        then()
    try:
        argv, script = bootscript.boot_argv(m, handle.profile, rt.lab.directory, first_boot=not marker.exists())
        handle.spawn_soon(argv, bootscript.environment(m, handle.profile), (devnull, out.fd, err.fd), started,
                          script=script)
    except OSError as e:
        started(e)
    finally:  # (nk-spawn holds its copies of the pipes' ends once asked)
        out.close_writer()
        err.close_writer()


_PACKAGES: dict[str, str] = {}


def package_of(program: str) -> str:
    """The Debian package of a program labs use ("" if nk does not know it)."""
    if not _PACKAGES:
        from ..backends.namespaces.runtime_files import packages
        _PACKAGES.update(packages())
    return _PACKAGES.get(program, "")
