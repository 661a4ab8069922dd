"""Startup and shutdown output of machines, written to the state dir with a cap.

A machine never gets a descriptor of a host file: its startup writes into a pipe, and the
supervisor's loop copies what arrives into logs/<machine>.log, up to LIMIT bytes per log
(then one line says the rest was dropped). A machine that writes forever costs the host
nothing but the loop's time.
"""
from __future__ import annotations

import os

from .loop import Loop

LIMIT = 1 << 20


class LogRelay:
    def __init__(self, loop: Loop, limit: int = LIMIT) -> None:
        self.loop, self.limit = loop, limit

    def pipe(self, path: os.PathLike | str) -> int:
        """The write end of a pipe whose output is appended to path; the caller closes it once
        the process that writes has it."""
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        state = {"left": self.limit - os.fstat(log).st_size}

        def readable() -> None:
            try:
                data = os.read(r, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.loop.remove_reader(r)
                os.close(r)
                os.close(log)
                return
            if state["left"] > 0:
                try:
                    os.write(log, data[: state["left"]])
                    state["left"] -= len(data)
                    if state["left"] <= 0:
                        os.write(log, f"\nnk: log truncated at {self.limit} bytes\n".encode())
                except OSError:  # the state dir is full: drop the rest, keep the lab running
                    state["left"] = 0
        self.loop.add_reader(r, readable)
        return w
