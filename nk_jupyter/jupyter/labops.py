"""What the lab magics do, apart from parsing their arguments (see magics.py).

- boot(): start a lab (or some machines) from a kernel: owner record, progress display,
  live topology view, summary and failed-startup logs.
- text_lab(): build the lab of a %%lab cell (Lab.from_text replaces an earlier lab of the
  same name), with lab.conf errors restated as cell lines.
"""
from __future__ import annotations

import contextlib

from IPython.display import display

from ..api import Lab, StartResult, text_lab_folder
from ..errors import LabConfError
from ..model.events import Event, MachineEvent
from ..model.states import MachineState
from .cellformat import parse_cell
from .live import Followers
from .progress import BootProgress, Throttle, in_kernel, report
from .session import Session


def boot(session: Session, followers: Followers, lab: Lab, machines: list[str] | None = None,
         topology: bool = True, fast: bool = False, verb: str = "started", images: str = "auto",
         uplinks=None) -> StartResult:
    """Start lab (all machines, or some) showing progress; returns Lab.start's result."""
    for name in machines or []:
        lab.model.machine(name)  # UnknownMachineError before anything happens
    owner = session.start_owner()
    session.use(lab)
    names = machines or list(lab.model.machines)
    progress = BootProgress(lab.model.name, names)
    if progress.html is not None:
        display(progress)
    view = None
    if topology and in_kernel():
        view = followers.view(lab)
        display(view)

    states: dict[str, MachineState] = {}  # the view's machines whose state changed since it was drawn

    def draw() -> None:
        for name, state in states.items():
            view.set_state(name, state)
        states.clear()
    redraw = Throttle(draw)

    def on_event(event: Event) -> None:
        progress(event)
        if view is not None and isinstance(event, MachineEvent):
            with redraw.lock:
                states[event.machine] = event.state
            redraw.poke()
    try:
        result = lab.start(machines or None, progress=on_event, fast=fast, owner=owner, images=images,
                           uplinks=uplinks)
    except BaseException:
        with contextlib.suppress(Exception):  # (what failed is the start's error, not a drawing's)
            progress.flush()
            redraw.flush()
        raise
    progress.flush()  # the last states, whatever the gap
    redraw.flush()
    report(lab, result, verb)
    follower = followers.of(lab)
    if view is not None:
        follower.add(view)
    follower.start()
    follower.refresh()
    return result


def text_lab(name: str, cell: str, overrides: list[str]) -> Lab:
    """The Lab of a %%lab cell named name; an earlier lab of that name is stopped first."""
    parsed = parse_cell(cell)
    try:  # (an earlier lab of that name is stopped and its files removed: a re-run starts afresh)
        return Lab.from_text(parsed.lab_conf, parsed.files, name=name, overrides=overrides)
    except LabConfError as err:
        raise parsed.translate(err, str(text_lab_folder(name))) from None
