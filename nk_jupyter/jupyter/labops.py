"""What the lab magics do, apart from parsing their arguments (see magics.py).

- boot(): start a lab (or some machines) from a kernel: owner record, progress display,
  live topology view, summary and failed-startup logs.
- text_lab(): build the lab of a %%lab cell, replacing an earlier lab of the same name,
  with lab.conf errors restated as cell lines.
"""
from __future__ import annotations

import time
from pathlib import Path

from IPython.display import display

from ..api import Lab
from ..engine.statedir import StateDir
from ..errors import LabConfError, UserError
from .cellformat import parse_cell
from .live import Followers
from .progress import BootProgress, in_kernel, report
from .session import Session, text_lab_folder


def boot(session: Session, followers: Followers, lab: Lab, machines: list[str] | None = None,
         topology: bool = True, fast: bool = False, verb: str = "started") -> dict:
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

    def on_event(event: dict) -> None:
        progress(event)
        if view is not None and event.get("event") == "machine":
            view.set_state(event.get("machine", ""), event.get("state", ""))
    result = lab.start(machines or None, progress=on_event, fast=fast, owner=owner)
    report(lab, result, verb)
    follower = followers.of(lab)
    if view is not None:
        follower.add(view)
    follower.start()
    follower.refresh()
    return result


def stop_folder(folder: Path) -> None:
    """Crash and clean whatever lab runs in folder (an earlier run of a %%lab cell)."""
    state = StateDir.for_lab(folder)
    if state.is_live():
        try:
            Lab.from_dir(folder, force=True).crash()
        except UserError:
            from ..engine.client import EngineClient
            EngineClient(state).call("shutdown")
            end = time.monotonic() + 10
            while state.is_live() and time.monotonic() < end:
                time.sleep(0.02)


def text_lab(name: str, cell: str, overrides: list[str]) -> Lab:
    """The Lab of a %%lab cell named name; an earlier lab of that name is stopped first."""
    parsed = parse_cell(cell)
    folder = text_lab_folder(name)
    stop_folder(folder)
    try:
        lab = Lab.from_text(parsed.lab_conf, parsed.files, name=name, overrides=overrides)
    except LabConfError as err:
        raise parsed.translate(err, str(folder)) from None
    if lab.state.path.exists():
        lab.clean()  # files of an earlier, halted run: a re-run starts from scratch
    return lab
