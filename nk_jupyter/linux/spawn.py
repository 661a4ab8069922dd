"""Starting and signalling processes from the single-threaded supervisor (posix_spawn, ptys).

The supervisor never forks itself to run a command (it is large, and a fork of it would hold
every descriptor it has): it posix_spawns a small program with exactly the descriptors the
command gets.
"""
from __future__ import annotations

import collections
import errno
import fcntl
import os
import signal
import struct
import termios
from typing import Callable

SETSID = "/usr/bin/setsid"
DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD,
                   signal.SIGUSR1, signal.SIGQUIT)
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP, "KILL": signal.SIGKILL}


def spawn_here(prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
               new_session: bool = True, extra: int | None = None) -> int:
    """posix_spawn prog with fds as its stdin/stdout/stderr (and extra as its descriptor 3)
    and default signal handling."""
    actions = [(os.POSIX_SPAWN_DUP2, fd, i) for i, fd in enumerate(fds + ((extra,) if extra is not None else ()))]
    return os.posix_spawn(prog, argv, env, file_actions=actions, setsid=new_session,
                          setsigdef=DEFAULT_SIGNALS, setsigmask=())


class SpawnerGone(OSError):
    """nk-spawn ended before it answered: what was asked of it did not start."""


class Spawner:
    """posix_spawn done by nk-spawn (helpers/nk-spawn.c), a process with almost no descriptors:
    a spawn from the supervisor would copy its descriptor table (a few per machine) and close it
    again at the exec. What it starts is our child all the same (CLONE_PARENT): watched, waited
    for and signalled as what spawn_here starts. Made once the supervisor's seccomp filter is in
    place, so nk-spawn and everything it starts are under it."""

    LIMIT = 120 * 1024  # a request larger than nk-spawn's buffer (or with more words) is spawned here
    WORDS = 8000
    OWED = 64  # spawn_soon's answers not read yet, at most: nk-spawn never blocks on its answers
               # (they fit its socket's send buffer), so neither end waits for the other
    ANSWERS_BUFFER = 128 * 1024  # nk-spawn's send buffer, at least (an answer takes ~1 KiB of it)

    def __init__(self, program: str) -> None:
        import socket
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if theirs.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < self.ANSWERS_BUFFER:  # (a host's small default)
            theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.ANSWERS_BUFFER)
        # answers owed at most, with one more just asked for (the kernel caps the buffer at wmem_max)
        self.owed = max(0, min(self.OWED, theirs.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2048) - 1)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.pid = spawn_here(program, ["nk-spawn"], {}, (null, null, null), extra=theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            os.close(null)
            theirs.close()
        self.sock: "socket.socket | None" = ours
        self.owner = os.getpid()
        self.waiting: "collections.deque[tuple[str, Callable[[int | OSError], None]]]" = collections.deque()
        self._unwatch: Callable[[], None] = lambda: None

    def spawn(self, prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
              new_session: bool = True, extra: int | None = None, entry: bool = False) -> int:
        """spawn_here's arguments and result. entry: prog is nk-enter (extra the machine init's
        pidfd), whose work nk-spawn does in the child itself, without its exec (flag "e")."""
        got: list[int | OSError] = []
        self.spawn_soon(prog, argv, env, fds, got.append, extra, entry, new_session)
        while not got:  # (its answer in its place: the answers come in order)
            self.take_replies(block=True, keep=len(self.waiting) - 1)
        if isinstance(got[0], OSError):
            if isinstance(got[0], SpawnerGone):  # (gone before it answered)
                return spawn_here(prog, argv, env, fds, new_session, extra)
            raise got[0]
        return got[0]

    def spawn_soon(self, prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
                   started: Callable[[int | OSError], None], extra: int | None = None, entry: bool = False,
                   new_session: bool = True) -> None:
        """spawn(), without waiting for nk-spawn's answer: started(pid), or started(OSError), once
        it comes (take_replies). What a boot asks for while it makes the next machines: the
        supervisor does not wait for each clone (~0.8 ms at 1000 machines on 2 cores)."""
        given = fds + ((extra,) if extra is not None else ())
        try:  # sent before any earlier answer's callback runs: it could close what fds name
            self.send_request("e" if entry else "s" if new_session else "-", prog, argv, env, given)
        except OSError as e:  # too large for nk-spawn, or it is gone (then for good): spawned here
            if e.errno == errno.EPIPE:
                self._gone()
            try:
                pid = spawn_here(prog, argv, env, fds, new_session, extra)
            except OSError as failed:
                return started(failed)
            return started(pid)
        self.waiting.append((prog, started))
        self.take_replies()  # (what has come: nk-spawn never waits long to answer)
        self.take_replies(block=True, keep=self.owed)

    def _result(self, prog: str, pid: int, err: int, stray: int | None) -> int:
        if stray is not None:
            os.close(stray)
        if err:
            if pid > 0:
                os.waitpid(pid, 0)  # the child whose exec failed is ours to reap
            raise OSError(err, os.strerror(err), prog)
        return pid

    def take_replies(self, block: bool = False, keep: int = 0) -> None:
        """Hand each answer that has come to the spawn_soon that asked for it, until no more than
        keep are owed (waiting for them, with block). The supervisor's loop calls it when
        nk-spawn's socket is readable."""
        while len(self.waiting) > keep:
            try:
                reply = self.read_reply(block)
            except BlockingIOError:
                return
            except OSError:  # nk-spawn is gone: what it did not answer did not start
                self._gone()
                return
            prog, started = self.waiting.popleft()
            try:
                pid: int | OSError = self._result(prog, *reply)
            except OSError as e:
                pid = e
            _hand(started, pid)

    def watch(self, add_reader: Callable, remove_reader: Callable) -> None:
        """Have a loop call take_replies when an answer is there."""
        if self.sock is not None:
            sock = self.sock
            add_reader(sock, self._readable)
            self._unwatch = lambda: remove_reader(sock)

    def _readable(self) -> None:
        import socket
        if self.waiting:
            return self.take_replies()
        try:  # no answer is owed: nk-spawn has ended (its end of the socket closed)
            if self.sock is not None and not self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                self._gone()
        except BlockingIOError:
            pass
        except OSError:
            self._gone()

    def _gone(self) -> None:
        """nk-spawn is gone (for good): what it was asked for and did not answer did not start."""
        if self.sock is not None:
            self._unwatch()
            self.sock.close()
            self.sock = None
        while self.waiting:
            _hand(self.waiting.popleft()[1], SpawnerGone(errno.EPIPE, "nk-spawn is gone"))

    def send_request(self, flag: str, prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, ...]) -> None:
        """One request to nk-spawn (nk-spawn.c has the flags); its answer is read_reply()'s.
        OSError E2BIG if nk-spawn cannot hold it, EPIPE if nk-spawn is gone."""
        import array
        import socket
        words = [flag, prog, str(len(argv)), *argv, *(f"{k}={v}" for k, v in env.items())]
        text = "\0".join(words)
        request = os.fsencode(text) + b"\0"  # (as posix_spawn encodes each word; one call for a plan's 300)
        if len(request) > self.LIMIT or len(words) >= self.WORDS or text.count("\0") != len(words) - 1:
            raise OSError(errno.E2BIG, f"{prog}: too many or too long arguments for nk-spawn (or a NUL in one)")
        if self.sock is None:
            raise OSError(errno.EPIPE, "nk-spawn is gone")
        try:
            self.sock.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        except (BrokenPipeError, ConnectionResetError):
            raise OSError(errno.EPIPE, "nk-spawn is gone") from None

    def read_reply(self, block: bool = True) -> tuple[int, int, int | None]:
        """(pid, errno, the descriptor sent with it or None: an init's pidfd) of the oldest request
        not answered yet; OSError EPIPE if nk-spawn is gone (BlockingIOError if not block and no
        answer is there yet)."""
        import array
        import socket
        if self.sock is None:
            raise OSError(errno.EPIPE, "nk-spawn is gone")
        fds = array.array("i")
        try:
            reply, anc, _flags, _addr = self.sock.recvmsg(8, socket.CMSG_SPACE(fds.itemsize), socket.MSG_CMSG_CLOEXEC
                                                          | (0 if block else socket.MSG_DONTWAIT))
        except (BrokenPipeError, ConnectionResetError):
            reply, anc = b"", []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
        if len(reply) != 8:
            for fd in fds:
                os.close(fd)
            raise OSError(errno.EPIPE, "nk-spawn is gone")
        pid, err = struct.unpack("<ii", reply)
        for fd in fds[1:]:
            os.close(fd)
        return pid, err, (fds[0] if fds else None)


def _hand(started: Callable[[int | OSError], None], result: int | OSError) -> None:
    """A spawn_soon's answer to its caller. Whoever reads it (the loop, another caller's spawn) does
    not take its callback's failure: it is logged, as the loop logs its callbacks' (engine/loop.py)."""
    try:
        started(result)
    except Exception:
        import traceback
        traceback.print_exc()


_SPAWNER: list[Spawner] = []


def use_spawner(spawner: Spawner) -> None:
    """From now on spawn_command in this process goes through spawner."""
    _SPAWNER[:] = [spawner]


def spawn_command(prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
                  extra: int | None = None, entry: bool = False) -> int:
    """spawn_here (a new session), through this process's Spawner when it has one (entry: see
    Spawner.spawn; spawned here, the program itself runs)."""
    if _SPAWNER and _SPAWNER[0].owner == os.getpid():
        return _SPAWNER[0].spawn(prog, argv, env, fds, extra=extra, entry=entry)
    return spawn_here(prog, argv, env, fds, extra=extra)


def spawn_command_soon(prog: str, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
                       started: Callable[[int | OSError], None], extra: int | None = None, entry: bool = False) -> None:
    """spawn_command, answered by started(pid or OSError): later, through the Spawner (see
    Spawner.spawn_soon), or at once."""
    if _SPAWNER and _SPAWNER[0].owner == os.getpid():
        return _SPAWNER[0].spawn_soon(prog, argv, env, fds, started, extra=extra, entry=entry)
    try:
        pid = spawn_here(prog, argv, env, fds, extra=extra)
    except OSError as e:
        return started(e)
    started(pid)


def spawn_on_pty(prog: str, argv: list[str], env: dict[str, str], size: tuple[int, int]) -> tuple[int, int]:
    """Spawn on a new pty of the current mount namespace's devpts; returns (pid, master)."""
    master, slave = os.openpty()
    try:
        set_size(master, size)
        os.set_inheritable(master, False)
        pid = spawn_here(SETSID, ["setsid", "--ctty", prog, *argv[1:]], env, (slave, slave, slave),
                         new_session=False)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return pid, master


def stop(proc, grace: float) -> None:
    """End a subprocess.Popen child: TERM, then KILL if it is still there after grace seconds; reaped."""
    if proc.poll() is not None:
        return
    import subprocess
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def set_size(master: int, size: tuple[int, int]) -> None:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))


def which(name: str, path: str) -> str | None:
    if "/" in name:
        return name
    for d in path.split(":"):
        full = f"{d}/{name}"
        if os.access(full, os.X_OK) and not os.path.isdir(full):
            return full
    return None


def children(pid: int) -> list[int]:
    """The children of process pid (one of ours)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


def signal_started(spawned: int, sig: int) -> None:
    """Signal what a spawned entry program (nk-enter, setsid) started: the command's process
    group (it leads its own session). The program in between only relays the exit status; it
    is signalled itself only when the command does not exist yet, or with SIGKILL."""
    kids = children(spawned)
    for child in kids:
        try:
            os.killpg(child, sig)
        except (ProcessLookupError, PermissionError):
            pass
    if not kids or sig == signal.SIGKILL:
        try:
            os.killpg(spawned, sig)
        except (ProcessLookupError, PermissionError):
            pass


__all__ = ["spawn_here", "spawn_command", "spawn_command_soon", "Spawner", "SpawnerGone", "use_spawner", "spawn_on_pty", "set_size", "which", "children", "signal_started", "SIGNALS"]
