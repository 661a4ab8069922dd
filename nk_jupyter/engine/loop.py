"""A tiny single-threaded event loop for the supervisor (selectors + pidfds + timers).

No threads: the supervisor forks and calls setns, which a threaded process must not.
Child exits arrive as readable pidfds; the callback gets the exit code.
"""
from __future__ import annotations

import heapq
import itertools
import os
import selectors
import signal
import time
from typing import Callable


class Loop:
    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()
        self.stopping = False
        self._turn_end: list[Callable[[], None]] = []

    def add_reader(self, fd, callback: Callable[[], None]) -> None:
        self.sel.register(fd, selectors.EVENT_READ, callback)

    def remove_reader(self, fd) -> None:
        try:
            self.sel.unregister(fd)
        except (KeyError, ValueError):
            pass

    def watch_child(self, pid: int, callback: Callable[[int], None]) -> None:
        """Call callback(exit code) when child pid exits (128+N when killed by signal N)."""
        pidfd = os.pidfd_open(pid)

        def fire() -> None:
            self.remove_reader(pidfd)
            os.close(pidfd)
            try:
                _, status = os.waitpid(pid, 0)
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            except ChildProcessError:
                code = 255
            callback(code)
        self.add_reader(pidfd, fire)

    def watch_exit(self, pid: int, callback: Callable[[], None]) -> None:
        """Call callback() when process pid (not necessarily our child) exits."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return callback()

        def fire() -> None:
            self.remove_reader(pidfd)
            os.close(pidfd)
            callback()
        self.add_reader(pidfd, fire)

    def stop_on_signals(self, signals: tuple[int, ...]) -> None:
        """Stop the loop at once when one of these signals arrives (a wakeup pipe breaks select)."""
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)

        def woke() -> None:
            try:
                os.read(r, 512)
            except BlockingIOError:
                pass
        self.add_reader(r, woke)
        for sig in signals:
            signal.signal(sig, lambda *_: setattr(self, "stopping", True))

    def call_later(self, delay: float, callback: Callable[[], None]) -> int:
        handle = next(self._seq)
        heapq.heappush(self._timers, (time.monotonic() + delay, handle, callback))
        return handle

    def cancel(self, handle: int) -> None:
        self._cancelled.add(handle)

    def at_turn_end(self, callback: Callable[[], None]) -> None:
        """Call callback once, when the callbacks that are running now have all returned."""
        self._turn_end.append(callback)

    def end_turn_now(self) -> None:
        """Run what waits for this turn's end now (a callback about to block for long: what
        it has sent so far must not wait for it)."""
        while self._turn_end:
            todo, self._turn_end = self._turn_end, []
            for cb in todo:
                self._call(cb)

    def run(self) -> None:
        while not self.stopping:
            timeout = None
            while self._timers and self._timers[0][1] in self._cancelled:
                self._cancelled.discard(heapq.heappop(self._timers)[1])
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for key, _ in self.sel.select(timeout):
                self._call(key.data)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, handle, cb = heapq.heappop(self._timers)
                if handle in self._cancelled:
                    self._cancelled.discard(handle)
                else:
                    self._call(cb)
            self.end_turn_now()

    @staticmethod
    def _call(callback: Callable[[], None]) -> None:
        """One callback's failure (a bug, or the host out of processes or space) is logged and
        does not stop the lab's supervisor."""
        try:
            callback()
        except Exception:
            import traceback
            traceback.print_exc()
