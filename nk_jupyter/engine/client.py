"""EngineClient: talks to one lab's supervisor over its api.sock (engine/protocol.py).

Used by the CLI, the Python API and the Jupyter kernel alike, so any of them can
drive a lab another process started.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Callable, Iterator

from ..errors import EngineError, LabNotRunningError, from_wire
from . import protocol
from .statedir import StateDir


class EngineClient:
    def __init__(self, state: StateDir) -> None:
        self.state = state

    def _connect(self, wait: float = 30.0) -> socket.socket:
        """A connection to the supervisor; while it is still starting (it holds the lab's lock but
        does not serve yet, e.g. another lstart brings it up), wait for it."""
        import time
        deadline = time.monotonic() + wait
        while True:
            if not self.state.is_live():
                raise LabNotRunningError(f"no lab is running for {self.state.read_json().get('directory', self.state.path)}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.state.sock))
                return s
            except OSError as e:
                s.close()
                if time.monotonic() > deadline:
                    raise LabNotRunningError(f"the lab's supervisor does not answer ({e.strerror})") from None
            time.sleep(0.02)

    @staticmethod
    def _final(msg: dict) -> dict:
        if msg.get("ok") is False:
            raise from_wire(msg.get("kind", "EngineError"), msg.get("message", ""), msg.get("fields"))
        return msg

    def call(self, op: str, on_event: Callable[[dict], None] | None = None, **args) -> dict:
        """Send one request; pass streamed events to on_event; return the final reply."""
        with self._connect() as s:
            protocol.send(s, {"op": op, **args})
            while True:
                try:
                    msg, fds = protocol.recv(s)
                except EOFError:
                    raise EngineError(f"the lab supervisor closed the connection during {op!r}") from None
                for fd in fds:
                    os.close(fd)
                if "event" in msg:
                    if on_event:
                        on_event(msg)
                    continue
                return self._final(msg)

    def events(self) -> Iterator[dict]:
        """Every event of the lab from now on (machine states, links), until it stops."""
        s = self._connect()
        try:
            protocol.send(s, {"op": "subscribe"})
            self._final(protocol.recv(s)[0])
            while True:
                try:
                    msg, _ = protocol.recv(s)
                except (EOFError, OSError):
                    return
                yield msg
        finally:
            s.close()

    def exec_fds(self, machine: str | None, command: str | None, fds: tuple[int, int, int], env: dict | None = None,
                 argv: list[str] | None = None) -> "RunningCommand":
        """Start command in machine (None: the lab's hub), its stdin/stdout/stderr being fds (sent, not copied)."""
        running, _ = self._exec(fds, machine=machine, command=command, argv=argv, env=env or {})
        return running

    def exec_pty(self, machine: str | None, argv: list[str], size: tuple[int, int],
                 env: dict | None = None) -> tuple["RunningCommand", int]:
        """Start argv on a new pty of the machine (or hub); returns it and the pty's master fd."""
        running, fds = self._exec((), machine=machine, command=None, argv=argv, env=env or {}, pty=list(size))
        if len(fds) != 1:
            running.close()
            raise EngineError("the supervisor did not send the terminal")
        return running, fds[0]

    def _exec(self, fds, **req) -> tuple["RunningCommand", list[int]]:
        s = self._connect()
        try:
            protocol.send(s, {"op": "exec", "hub": req["machine"] is None, **req}, fds=list(fds))
            msg, got = protocol.recv(s)
            self._final(msg)
        except BaseException:
            s.close()
            raise
        return RunningCommand(s), got


class RunningCommand:
    """A command started in a machine: wait for it, or signal it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.status: int | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def signal(self, name: str) -> None:
        """Send INT, TERM, HUP or KILL to the command's process group."""
        try:
            protocol.send(self.sock, {"op": "signal", "signal": name})
        except OSError:
            pass

    def wait(self) -> int:
        if self.status is None:
            try:
                msg, _ = protocol.recv(self.sock)
            except EOFError:
                raise EngineError("the lab supervisor went away while a command ran") from None
            EngineClient._final(msg)
            self.status = int(msg["status"])
            self.sock.close()
        return self.status

    def close(self) -> None:
        self.sock.close()


def client_for(directory: str | Path) -> EngineClient:
    return EngineClient(StateDir.for_lab(Path(directory)))
