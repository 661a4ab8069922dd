"""Boot progress for %lstart / %%lab / %vstart, and the report of failed startups.

In a kernel the progress is a small HTML widget, one badge per machine, recoloured as
the engine reports each machine's state (widget updates are not cell outputs, so nbval
sees only the fixed text/plain line). Elsewhere (terminal IPython) each state change is
printed. When the lab is up, report() prints one deterministic summary line and, for
each machine whose startup failed, the tail of its startup log on stderr.
"""
from __future__ import annotations

import html
import sys
import threading
import time
from typing import Callable

from ..api import Lab, StartResult, start_summary
from ..model.events import Event, MachineEvent, PullEvent, WarningEvent
from ..model.states import MachineState as S
from ..text import printable
from .tables import STATE_COLOURS

LOG_LINES = 25
REDRAW_GAP = 0.1  # seconds between two redraws of a booting lab's badges (each is the whole lab's HTML)


def in_kernel() -> bool:
    try:
        from IPython import get_ipython
        return getattr(get_ipython(), "kernel", None) is not None
    except ImportError:
        return False


class Throttle:
    """draw() at most once per gap seconds however often poke() is called, and once more a gap
    after a poke that could not draw at once, so the last change always shows (a boot of N
    machines sends 3N events; drawing at each was quadratic in the lab's size). flush() draws
    now if a poke is pending. The late draw runs on a timer thread: hold `lock` while changing
    what draw() reads."""

    def __init__(self, draw: Callable[[], None], gap: float = REDRAW_GAP) -> None:
        self.draw, self.gap = draw, gap
        self.lock = threading.RLock()
        self.drawn, self.pending = 0.0, False
        self.timer: threading.Timer | None = None

    def poke(self) -> None:
        with self.lock:
            self.pending = True
            wait = self.drawn + self.gap - time.monotonic()
            if wait <= 0:
                self.flush()
            elif self.timer is None:
                self.timer = threading.Timer(wait, self.flush)
                self.timer.daemon = True
                self.timer.start()

    def flush(self) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.pending:
                self.pending = False
                self.drawn = time.monotonic()
                self.draw()


class BootProgress:
    """A progress callback for Lab.start that shows per-machine states."""

    def __init__(self, lab_name: str, machines: list[str], widget: bool | None = None) -> None:
        self.lab_name = lab_name
        self.states: dict[str, str] = {m: "pending" for m in machines}
        self.warnings: list[str] = []
        self.html = None
        self._redraw = Throttle(self._draw)
        if widget if widget is not None else in_kernel():
            import ipywidgets
            self.html = ipywidgets.HTML(self._render())

    def __call__(self, event: Event) -> None:
        if isinstance(event, WarningEvent):
            text = f"{event.machine}: {event.message}" if event.machine else event.message
            self.warnings.append(text)
            sys.stderr.write(f"warning: {printable(text)}\n")
            sys.stderr.flush()
        elif isinstance(event, PullEvent) and event.done:
            sys.stderr.write(f"image {printable(event.image)}: {printable(event.text)}\n")
            sys.stderr.flush()
        elif isinstance(event, MachineEvent):
            with self._redraw.lock:
                self.states[event.machine] = event.state.value
            if self.html is None:
                print(f"{event.machine}: {event.state}", flush=True)
            else:
                self._redraw.poke()

    def flush(self) -> None:
        """Draw the badges now if a state changed since they were last drawn (the boot's end)."""
        self._redraw.flush()

    def _draw(self) -> None:
        if self.html is not None:
            self.html.value = self._render()

    def _render(self) -> str:
        done = sum(1 for s in self.states.values() if s in (S.RUNNING.value, S.FAILED.value))
        badges = []
        for name, state in sorted(self.states.items()):
            colour = STATE_COLOURS.get(state, "#8c959f")
            badges.append(f"<span style='display:inline-block;margin:2px 6px 2px 0;padding:1px 8px;"
                          f"border-radius:10px;border:1px solid {colour};color:{colour}'>"
                          f"{html.escape(name)}: {html.escape(state)}</span>")
        return (f"<div class='nk-progress'><b>Lab {html.escape(self.lab_name)!s}</b> "
                f"({done}/{len(self.states)} up)<br>{''.join(badges)}</div>")

    def summary(self) -> str:
        return f"Booting lab {self.lab_name!r}: {', '.join(sorted(self.states))}"

    def __repr__(self) -> str:
        return self.summary()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        if self.html is None:
            return {"text/plain": self.summary()}
        bundle = self.html._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.summary()
        return bundle


def report(lab: Lab, result: StartResult, verb: str = "started") -> list[str]:
    """Print the outcome of a start; returns the machines whose startup failed."""
    info = {m.name: m for m in lab.info()}
    names = sorted(result.machines or info)
    bad = []
    for name in names:
        m = info.get(name)
        status = m.startup_status if m else None
        if name in result.failed or (m and m.state == S.FAILED) or status not in (0, None):
            bad.append(name)
    good = [n for n in names if n not in bad]
    line = f"Lab {lab.model.name!r} {verb}: {len(good)} of {len(names)} machines running"
    print(line + (f" ({', '.join(good)})" if good and len(good) <= 12 else ""), flush=True)
    for name in bad:
        m = info.get(name)
        detail = result.details.get(name) or (m.detail or m.state.value if m else "")
        sys.stderr.write(f"\n{name}: startup failed: {printable(detail)}\n--- startup log of {name} (last {LOG_LINES} lines) ---\n")
        sys.stderr.write(printable(startup_log(lab, name)) + "\n")
    lacking = [line for line in start_summary(result) if line.startswith("this host lacks")]
    if lacking:
        sys.stderr.write(printable(lacking[0]) + "\n")
    sys.stderr.flush()
    return bad


def startup_log(lab: Lab, name: str, lines: int = LOG_LINES) -> str:
    return lab.startup_log(name, lines) or "(no startup output)"
