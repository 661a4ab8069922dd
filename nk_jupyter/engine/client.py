"""EngineClient: talks to one lab's supervisor over its api.sock (engine/messages.py).

Used by the Python API (and through it by every face), so any process can drive a lab
another process started. Before it speaks it checks that the supervisor speaks its API
version (lab.json says which one the launcher started).
"""
from __future__ import annotations

import os
import socket
from typing import Callable, Iterator

from .. import wire
from ..errors import EngineError, LabNotRunningError, UserError
from ..model.events import EVENTS, Event
from . import messages as msg
from . import running
from .running import RunningCommand
from .statedir import StateDir


class ApiVersionError(UserError):
    """The lab's supervisor speaks another API version (another nk started it)."""


class EngineClient:
    def __init__(self, state: StateDir) -> None:
        self.state = state

    def check_version(self) -> None:
        conf = self.state.read_json()
        theirs = conf.get("api", 1)
        if theirs != msg.API_VERSION:
            folder = conf.get("directory", str(self.state.path))
            raise ApiVersionError(f"the lab in {folder} was started by another version of nk (API {theirs}; this "
                                  f"nk speaks API {msg.API_VERSION}): stop it with `nk lcrash -d {folder}` "
                                  "(that works across versions) and start it again")

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
                self.check_version()
                return s
            except OSError as e:
                s.close()
                if time.monotonic() > deadline:
                    raise LabNotRunningError(f"the lab's supervisor does not answer ({e.strerror})") from None
            except BaseException:
                s.close()
                raise
            time.sleep(0.02)

    @staticmethod
    def _reply(frame: dict, kind: type):
        running.reply_ok(frame)  # (an error reply is raised as its own NkError)
        try:
            return wire.decode(kind, {k: v for k, v in frame.items() if k != "ok"}, f"reply {kind.__name__}")
        except wire.ProtocolError as e:
            raise EngineError(f"the lab supervisor sent a reply this nk does not understand: {e}") from None

    @staticmethod
    def event(frame: dict) -> Event | None:
        kind = EVENTS.get(frame.get("event"))
        if kind is None:
            return None
        try:
            return wire.decode(kind, {k: v for k, v in frame.items() if k != "event"}, f"event {kind.KIND}")
        except wire.ProtocolError:
            return None

    def call(self, request, on_event: Callable[[Event], None] | None = None):
        """Send one request; pass the events it streams to on_event; return its typed reply."""
        reply_kind = msg.REQUESTS[request.OP][1]
        with self._connect() as s:
            wire.send(s, {"op": request.OP, **wire.encode(request)})
            while True:
                try:
                    frame, fds = wire.recv(s)
                except (EOFError, ConnectionResetError):
                    raise EngineError(f"the lab supervisor closed the connection during {request.OP!r}") from None
                for fd in fds:
                    os.close(fd)
                if "event" in frame:
                    event = self.event(frame)
                    if on_event and event is not None:
                        on_event(event)
                    continue
                return self._reply(frame, reply_kind)

    def events(self) -> Iterator[Event]:
        """Every event of the lab from now on (machine states, links), until it stops."""
        s = self._connect()
        try:
            wire.send(s, {"op": msg.Subscribe.OP})
            self._reply(wire.recv(s)[0], msg.SubscribeReply)
            while True:
                try:
                    frame, _ = wire.recv(s)
                except (EOFError, OSError):
                    return
                event = self.event(frame)
                if event is not None:
                    yield event
        finally:
            s.close()

    def exec_fds(self, machine: str | None, command: str | None, fds: tuple[int, int, int], env: dict | None = None,
                 argv: list[str] | None = None) -> RunningCommand:
        """Start command in machine (None: the lab's hub), its stdin/stdout/stderr being fds (sent, not copied)."""
        return self.start_fds(msg.Exec(machine, command, argv, dict(env or {})), fds)

    def start_fds(self, request, fds: tuple[int, int, int]) -> RunningCommand:
        """Send a request that starts a process on fds (Exec, Capture); it answers ExecStarted."""
        running, _ = self._exec(request, fds)
        return running

    def exec_pty(self, machine: str | None, argv: list[str] | None, size: tuple[int, int],
                 env: dict | None = None) -> tuple[RunningCommand, int]:
        """Start argv (None: the machine's login shell) on a new pty of the machine (or hub);
        returns it and the pty's master fd."""
        request = msg.Exec(machine, None, argv or None, dict(env or {}), pty=list(size), login=not argv)
        running, fds = self._exec(request, ())
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            running.close()
            raise EngineError("the supervisor did not send the terminal")
        return running, fds[0]

    def _exec(self, request: msg.Exec, fds) -> tuple[RunningCommand, list[int]]:
        return running.start(self._connect(), {"op": request.OP, **wire.encode(request)}, fds)
