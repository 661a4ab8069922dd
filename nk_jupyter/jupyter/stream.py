"""A command's output streamed into the cell, and Ctrl-C (kernel interrupt) handling.

run_streamed(lab, machine, command) prints stdout and stderr as the node produces them
(plain sys.stdout / sys.stderr writes, flushed at once: they show live in JupyterLab and
nbval compares them) and returns an ExecResult.

Interrupts: the kernel's interrupt is SIGINT to the kernel's process group, raised here
as KeyboardInterrupt. The command in the node is then sent INT, then TERM, then KILL
(each after a grace period) through ExecStream.signal, while its remaining output is
still printed; the lab keeps running, and KeyboardInterrupt is raised again so that the
cell (and nbval, and Run All) stops.

A reader thread drains the stream into a queue; the main thread prints. So the main
thread only ever waits on the queue, where KeyboardInterrupt can reach it, and the
stream stays open (able to take signals) until the command has ended.
"""
from __future__ import annotations

import queue
import sys
import threading
import time

from ..api import ExecResult, ExecStream, Lab

ESCALATION = (("INT", 1.0), ("TERM", 1.0), ("KILL", 2.0))
_DONE = object()


class _Reader(threading.Thread):
    """Iterates an ExecStream on a thread, handing chunks over through a queue."""

    def __init__(self, stream: ExecStream) -> None:
        super().__init__(daemon=True, name="nk-vcmd-reader")
        self.stream = stream
        self.chunks: queue.Queue = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for item in self.stream:
                self.chunks.put(item)
        except BaseException as e:  # handed to the main thread
            self.error = e
        finally:
            self.chunks.put(_DONE)


def _emit(kind: str, text: str, out: list[str], err: list[str], quiet: bool) -> None:
    (out if kind == "stdout" else err).append(text)
    if not quiet:
        target = sys.stdout if kind == "stdout" else sys.stderr
        target.write(text)
        target.flush()


def _drain(reader: _Reader, deadline: float | None, out: list[str], err: list[str], quiet: bool) -> bool:
    """Print chunks until the command ends (True) or the deadline passes (False)."""
    while True:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            # a finite timeout keeps the wait interruptible on every Python version
            item = reader.chunks.get(timeout=0.25 if timeout is None else min(timeout, 0.25))
        except queue.Empty:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            continue
        if item is _DONE:
            return True
        _emit(item[0], item[1], out, err, quiet)


def _stop(reader: _Reader, out: list[str], err: list[str], quiet: bool) -> str:
    """Escalate INT -> TERM -> KILL until the command ends; returns the signal that did it."""
    for name, grace in ESCALATION:
        reader.stream.signal(name)
        try:
            if _drain(reader, time.monotonic() + grace, out, err, quiet):
                return name
        except KeyboardInterrupt:  # a second interrupt: go straight to the next signal
            continue
    reader.stream.running.close()
    return "KILL (no answer)"


def run_streamed(lab: Lab, machine: str, command: str, quiet: bool = False) -> ExecResult:
    """Run command in machine, printing its output as it comes (unless quiet).

    Raises KeyboardInterrupt (after stopping the command) when the kernel is interrupted.
    """
    __tracebackhide__ = True  # noqa: F841  (the interrupt's traceback shows the cell only)
    stream = lab.exec(machine, command)
    reader = _Reader(stream)
    reader.start()
    out: list[str] = []
    err: list[str] = []
    try:
        _drain(reader, None, out, err, quiet)
    except KeyboardInterrupt:
        how = _stop(reader, out, err, quiet)
        sys.stdout.flush()
        sys.stderr.write(f"\n[{machine}: command interrupted, stopped by SIG{how}; the lab keeps running]\n")
        sys.stderr.flush()
        _interrupted(machine, how)
    reader.join(timeout=5)
    if reader.error is not None:
        raise reader.error
    status = stream.status if stream.status is not None else -1
    return ExecResult(machine, command, status, "".join(out), "".join(err))


def _interrupted(machine: str, how: str) -> None:
    # The kernel was interrupted while a command ran in a machine. The command was stopped
    # (see the line printed above); the lab keeps running. Raising again stops the cell,
    # and Run All / nbval, as an interrupt should.
    raise KeyboardInterrupt(f"{machine}: command stopped by SIG{how}") from None


def report_status(result: ExecResult) -> None:
    """Say clearly, on stderr, that a command failed (nothing when it succeeded)."""
    if result.status != 0:
        sys.stdout.flush()
        sys.stderr.write(f"[{result.machine}: exit status {result.status}]\n")
        sys.stderr.flush()
