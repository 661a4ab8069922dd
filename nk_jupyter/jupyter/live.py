"""Keeps TopologyViews of a running lab current, from the lab's own events.

One Follower per lab: a thread reads lab.events() (machine state changes; "links" events
after vconfig and whenever an address, route or link changes inside a machine) and
shows each state at once with view.set_state; a second thread then fetches
lab.topology() (addresses, routes, links) at most every REFRESH_GAP seconds and applies
it with view.update, and also every POLL seconds while views exist, as a fallback. Both stop when the lab stops; follow() starts them again.

ipywidgets send trait changes from any thread (see docs/jupyter.md), so views update
while a cell runs too; only clicks wait for the kernel to be idle.
"""
from __future__ import annotations

import threading
import time
import weakref

from ..api import Lab
from ..model.events import MachineEvent
from .widget import TopologyView

REFRESH_GAP = 0.2
POLL = 5.0


class Follower:
    """Follows one lab's events for the views registered with it."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.views: weakref.WeakSet[TopologyView] = weakref.WeakSet()
        self.dirty = threading.Event()
        self.stopped = threading.Event()
        self.stopped.set()
        self._threads: list[threading.Thread] = []
        self.last_event = 0.0

    def add(self, view: TopologyView) -> None:
        self.views.add(view)

    def start(self) -> None:
        """(Re)start following, if the lab runs and we are not following already."""
        if not self.stopped.is_set() or not self.lab.running:
            return
        self.stopped.clear()
        self._threads = [threading.Thread(target=self._events, daemon=True, name="nk-events"),
                         threading.Thread(target=self._refresher, daemon=True, name="nk-refresh")]
        for t in self._threads:
            t.start()

    def poke(self) -> None:
        """Ask for a topology refresh soon (after a command that may change addresses)."""
        self.dirty.set()

    def _events(self) -> None:
        try:
            for event in self.lab.events():
                self.last_event = time.monotonic()
                if isinstance(event, MachineEvent):
                    for view in list(self.views):
                        view.set_state(event.machine, event.state)
                self.dirty.set()
        except Exception:  # the lab went away mid-read: same as its end
            pass
        finally:
            self.stopped.set()
            self.dirty.set()

    def _refresher(self) -> None:
        while True:
            self.dirty.wait(POLL)
            if self.stopped.is_set():
                self.refresh()
                return
            time.sleep(REFRESH_GAP)
            self.dirty.clear()
            self.refresh()

    def refresh(self) -> None:
        """Apply a fresh topology to every view now."""
        if not self.views or not self.lab.running:
            return  # a stopped lab's topology is lab.conf only: keep the last states shown
        try:
            topo = self.lab.topology()
        except Exception:  # stopped between the check and the call
            return
        for view in list(self.views):
            view.update(topo)


class Followers:
    """The Follower of each lab (by folder) in this kernel."""

    def __init__(self) -> None:
        self.by_dir: dict[str, Follower] = {}

    def of(self, lab: Lab) -> Follower:
        key = str(lab.directory)
        f = self.by_dir.get(key)
        if f is None or f.lab is not lab:
            if f is not None:  # a replaced lab (a %%lab cell run again): old views stop following
                f.views = weakref.WeakSet()
            f = self.by_dir[key] = Follower(lab)
        return f

    def view(self, lab: Lab) -> TopologyView:
        """A new live view of lab (static if the lab is not running)."""
        view = TopologyView(lab.topology(), details=lab.topology, capture=lambda d, n: capture_lines(lab, d, n))
        follower = self.of(lab)
        follower.add(view)
        follower.start()
        return view


def capture_lines(lab: Lab, domain: str, count: int):
    """Lines of text, one per frame, of a capture of domain (the topology view's button)."""
    from .. import pcap
    yield from pcap.lines(lab.capture(domain, count).stdout())
