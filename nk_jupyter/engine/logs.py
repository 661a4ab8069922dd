"""Startup and shutdown output of machines, written to the state dir with a cap.

A machine never gets a descriptor of a host file: its startup writes into pipes, and the
supervisor's loop copies what arrives into logs/<machine>.log, up to LIMIT bytes per log
(then one line says the rest was dropped). A machine that writes forever costs the host
nothing but the loop's time. A pipe may have a tap that sees each line (the first error of a
startup, the programs it lacked).
"""
from __future__ import annotations

import os
from typing import Callable

from .loop import Loop

LIMIT = 1 << 20
LINE_LIMIT = 4096  # a tap sees at most this much of one line


class LogPipe:
    """One pipe into a log: give .fd to the writer (then close it); drain() reads what is
    already in the pipe (before asking a tap what it saw)."""

    def __init__(self, relay: "LogRelay", path, on_line: Callable[[str], None] | None) -> None:
        self.relay, self.on_line = relay, on_line
        r, self.fd = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        self.r = r
        self.log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.left = relay.limit - os.fstat(self.log).st_size
        self.partial = b""
        self.open = True
        relay.loop.add_reader(r, self.drain)

    def drain(self) -> None:
        while self.open:
            try:
                data = os.read(self.r, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close()
                return
            self._write(data)
            if self.on_line:
                self._lines(data)

    def _write(self, data: bytes) -> None:
        if self.left <= 0:
            return
        try:
            os.write(self.log, data[: self.left])
            self.left -= len(data)
            if self.left <= 0:
                os.write(self.log, f"\nnk: log truncated at {self.relay.limit} bytes\n".encode())
        except OSError:  # the state dir is full: drop the rest, keep the lab running
            self.left = 0

    def _lines(self, data: bytes) -> None:
        *lines, self.partial = (self.partial + data).split(b"\n")
        self.partial = self.partial[-LINE_LIMIT:]
        for line in lines:
            self.on_line(line[:LINE_LIMIT].decode(errors="replace"))

    def _close(self) -> None:
        self.open = False
        if self.on_line and self.partial:
            self.on_line(self.partial.decode(errors="replace"))
            self.partial = b""
        self.relay.loop.remove_reader(self.r)
        os.close(self.r)
        os.close(self.log)

    def close_writer(self) -> None:
        os.close(self.fd)


class LogRelay:
    def __init__(self, loop: Loop, limit: int = LIMIT) -> None:
        self.loop, self.limit = loop, limit

    def pipe(self, path: os.PathLike | str, on_line: Callable[[str], None] | None = None) -> LogPipe:
        return LogPipe(self, path, on_line)

    def note(self, path: os.PathLike | str, text: str) -> None:
        """Append nk's own line to a log (within the cap)."""
        p = self.pipe(path)
        try:
            os.write(p.fd, text.encode())
        finally:
            p.close_writer()
        p.drain()
