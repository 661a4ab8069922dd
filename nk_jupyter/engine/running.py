"""A command running in a machine, as a client holds it: RunningCommand (the connection that
brings its exit status) and ExecStream (the pipes of its stdin, stdout and stderr).

Light on purpose: framing and errors only, no typed model (the messages, the lab model), so
that `nk vcmd` can start a command through here (nk_jupyter/quick.py) without loading them.
The two replies read here are checked by hand: ExecStarted (no fields) and ExecStatus (one int).
"""
from __future__ import annotations

import os
import select

TYPE_CHECKING = False  # (typing.TYPE_CHECKING without importing typing: 2 ms at nk vcmd's start)
if TYPE_CHECKING:
    import socket
    from typing import Callable, Iterator

from .. import wire
from ..errors import EngineError, from_wire


def reply_ok(frame: dict) -> dict:
    """A reply frame, or the error it carries raised as the same NkError class."""
    if frame.get("ok") is False:
        raise from_wire(frame.get("kind", "EngineError"), frame.get("message", ""), frame.get("fields"))
    return frame


def exec_status(frame: dict) -> int:
    """ExecStatus's one field (messages.ExecStatus), read without the typed model."""
    status = reply_ok(frame).get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        raise EngineError("the lab supervisor sent a reply this nk does not understand: ExecStatus.status "
                          f"is {type(status).__name__}")
    return status


def start(sock: socket.socket, frame: dict, fds) -> tuple["RunningCommand", list[int]]:
    """Send an exec-like request on a fresh connection; its ExecStarted reply (and any
    descriptors with it, a pty master) or the error it is. The connection is the command's."""
    try:
        wire.send(sock, frame, fds=list(fds))
        reply, got = wire.recv(sock)
        try:
            reply_ok(reply)
        except BaseException:
            for fd in got:
                os.close(fd)
            raise
    except BaseException:
        sock.close()
        raise
    return RunningCommand(sock), got


class _Poll:
    """What chunks() needs of selectors.DefaultSelector, on epoll itself (`selectors` loads
    `collections`, ~2 ms of nk vcmd's start): descriptors, each with a name, waited on to read
    (or to write) until one is ready. Like epoll, it refuses a regular file (PermissionError)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._names: dict[int, str] = {}

    def register(self, fd: int, name: str, write: bool = False) -> None:
        self._epoll.register(fd, select.EPOLLOUT if write else select.EPOLLIN)
        self._names[fd] = name

    def unregister(self, fd: int) -> None:
        self._epoll.unregister(fd)
        del self._names[fd]

    def select(self, timeout: float | None) -> list[tuple[int, str]]:
        """(descriptor, name) of those ready (or hung up, or in error) within timeout seconds."""
        return [(fd, self._names[fd]) for fd, _ in self._epoll.poll(-1 if timeout is None else timeout)
                if fd in self._names]

    def close(self) -> None:
        self._epoll.close()


class RunningCommand:
    """A command started in a machine: wait for it, or signal it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.status: int | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def signal(self, name: str) -> None:
        """Send INT, TERM, HUP or KILL to the command's process group."""
        from . import messages as msg  # (only now: starting and waiting need no typed model)
        try:
            wire.send(self.sock, {"op": msg.Signal.OP, **wire.encode(msg.Signal(name))})
        except OSError:
            pass

    def wait(self) -> int:
        if self.status is None:
            try:
                frame, _ = wire.recv(self.sock)
            except EOFError:
                raise EngineError("the lab supervisor went away while a command ran") from None
            self.status = exec_status(frame)
            self.sock.close()
        return self.status

    def close(self) -> None:
        self.sock.close()


class ExecStream:
    """A command running in a machine: its output as it comes, then its exit status.

    Iterate for (stream, text) chunks, stream being "stdout" or "stderr" (`chunks()` gives the
    raw bytes). The command gets pipes, never a descriptor of ours: stdin is empty unless
    `stdin` is bytes to send or a descriptor whose data is relayed. Output ends when the
    command exits (what it wrote before is all delivered; daemons it left behind do not keep
    the stream open). `signal("INT")` interrupts it; leaving the iteration early hangs it up.
    """

    DRAIN_LIMIT = 1 << 20  # read at most this much buffered output once the command has exited
    GRACE = 2.0            # seconds between TERM and KILL after a deadline

    def __init__(self, start: Callable[[tuple[int, int, int]], RunningCommand], machine: str | None,
                 command: str, stdin: bytes | int | None = None) -> None:
        """start(fds) starts the command on those three descriptors (sent, not copied)."""
        self.machine, self.command = machine, command
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.running = start((in_r, out_w, err_w))
        except BaseException:
            for fd in (out_r, err_r, in_w):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self._fds = {out_r: "stdout", err_r: "stderr"}
        self._in_w: int | None = in_w
        self._pending = stdin if isinstance(stdin, bytes) else b""
        self._input = stdin if isinstance(stdin, int) else None
        if stdin is None:
            self._close_stdin()
        else:
            os.set_blocking(in_w, False)
        self.status: int | None = None
        self.timed_out = False

    def _close_stdin(self) -> None:
        if self._in_w is not None:
            os.close(self._in_w)
            self._in_w = None

    def stdout(self, stderr: list[bytes] | None = None) -> Iterator[bytes]:
        """Its stdout as it comes (a capture's pcap); what it writes on stderr goes to stderr."""
        for kind, data in self.chunks():
            if kind == "stdout":
                yield data
            elif stderr is not None:
                stderr.append(data)

    def chunks(self, deadline: float | None = None) -> Iterator[tuple[str, bytes]]:
        """(stream, bytes) as the command writes them. Past deadline (time.monotonic()) the
        command gets TERM, and KILL GRACE seconds later; self.timed_out says so."""
        import time
        sent: list[str] = []
        sel = _Poll()
        for fd, name in self._fds.items():
            sel.register(fd, name)
        sel.register(self.running.fileno(), "status")
        plain_file = False  # a file (or /dev/null) is always readable, and epoll refuses it
        if self._input is not None:
            try:
                sel.register(self._input, "input")
            except PermissionError:
                plain_file = True
        if self._pending and self._in_w is not None:
            sel.register(self._in_w, "stdin", write=True)
        try:
            while True:
                wait = None
                if deadline is not None:
                    now = time.monotonic()
                    if now >= deadline:
                        escalation = ["TERM", "KILL"][len(sent):]
                        if not escalation:  # killed and still no status: the supervisor is gone
                            self.close()
                            return
                        self.timed_out = True
                        sent.append(escalation[0])
                        self.signal(escalation[0])
                        deadline = now + self.GRACE
                    wait = max(0.0, deadline - now)
                if plain_file and self._input is not None and not self._pending and self._in_w is not None:
                    data = os.read(self._input, 65536)
                    if data:
                        self._pending = data
                        sel.register(self._in_w, "stdin", write=True)
                    else:
                        self._input = None
                        self._close_stdin()
                for fd, what in sel.select(wait):
                    if what in ("stdout", "stderr"):
                        data = os.read(fd, 65536)
                        if data:
                            yield what, data
                        else:
                            sel.unregister(fd)
                    elif what == "status":
                        self.status = self.running.wait()
                        yield from self._drain()
                        return
                    elif what == "input":
                        data = os.read(fd, 65536)
                        sel.unregister(fd)
                        if not data:
                            self._input = None
                            if not self._pending:
                                self._close_stdin()
                        elif self._in_w is not None:
                            self._pending += data
                            sel.register(self._in_w, "stdin", write=True)
                    elif what == "stdin":
                        try:
                            self._pending = self._pending[os.write(fd, self._pending):]
                        except BrokenPipeError:  # the command closed its stdin
                            self._pending, self._input = b"", None
                        if not self._pending:
                            sel.unregister(fd)
                            if self._input is not None and not plain_file:
                                sel.register(self._input, "input")
                            elif self._input is None:
                                self._close_stdin()
        except GeneratorExit:
            self.close()  # the caller stopped reading: hang the command up
            raise
        finally:
            sel.close()
            self._close_stdin()
            for fd in self._fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._fds = {}  # (closed: a second reading must not use numbers that may name others by then)

    def _drain(self) -> Iterator[tuple[str, bytes]]:
        """What the command wrote before it exited, without waiting for the pipes to close."""
        left = self.DRAIN_LIMIT
        for fd, name in self._fds.items():
            os.set_blocking(fd, False)
            while left > 0:
                try:
                    data = os.read(fd, min(65536, left))
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                left -= len(data)
                yield name, data

    def __iter__(self) -> Iterator[tuple[str, str]]:
        import codecs
        decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in self._fds.values()}
        for name, data in self.chunks():
            text = decoders[name].decode(data)
            if text:
                yield name, text

    def signal(self, name: str = "INT") -> None:
        """Signal the command's process group (INT, TERM, HUP or KILL) while it runs."""
        self.running.signal(name)

    def wait(self) -> int:
        """Wait for the command to end (after an interrupted iteration); returns its status."""
        if self.status is None:
            self.status = self.running.wait()
        return self.status

    def close(self) -> None:
        """Forget the command; if it still runs it gets SIGHUP."""
        if self.status is None:
            self.running.close()
