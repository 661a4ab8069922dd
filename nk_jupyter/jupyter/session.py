"""What one kernel knows: the current lab, the labs it started, and their clean-up.

- The current lab is the one last started or attached in this kernel; magics act on it
  unless `-d DIR` (a lab folder, or the NAME of a %%lab lab) says otherwise.
- Labs started here carry Owner(pid=kernel pid, kernel=connection file). When the
  kernel exits (shutdown or restart) they are halted (%%lab labs are crashed and removed,
  since the cell rebuilds them): by an atexit hook in the kernel,
  and, should the kernel be killed first, by a small reaper process (jupyter/reaper.py)
  that waits for the kernel pid to end. Labs started by the CLI or another kernel are
  left alone.
- After a restart, running labs are found again (api.running_labs()).
"""
from __future__ import annotations

import atexit
import os
import subprocess
from pathlib import Path

from .. import selfrun
from ..api import Lab, Owner, RunningLab, running_labs, stop, text_lab_folder
from ..errors import LabNotRunningError, UserError

NO_LAB = ("no lab in this kernel yet: start one with %lstart DIR or a %%lab cell, "
          "or attach to a running one with %lattach DIR")


def kernel_owner() -> Owner:
    """This process as a lab owner: the kernel's connection file (when in a kernel) and pid."""
    try:
        from ipykernel.connect import get_connection_file
        from traitlets.config import MultipleInstanceError
    except ImportError:
        return Owner(os.getpid(), f"ipython:{os.getpid()}")
    try:
        return Owner(os.getpid(), get_connection_file())
    except (RuntimeError, MultipleInstanceError):  # IPython in a terminal, not a kernel
        return Owner(os.getpid(), f"ipython:{os.getpid()}")


def where(lab: Lab) -> str:
    """How to name lab's folder to the user: the NAME of a %%lab lab, else the folder."""
    return lab.directory.name if lab.text_lab else str(lab.directory)


class Session:
    """The labs of one kernel (or one InteractiveShell)."""

    def __init__(self) -> None:
        self.current: Lab | None = None
        self.labs: dict[str, Lab] = {}
        self.owner = kernel_owner()
        self._reaper: subprocess.Popen | None = None
        atexit.register(self.shutdown)

    # -- choosing a lab -----------------------------------------------------------
    def resolve(self, where: str | None = None) -> Lab:
        """The lab named by `-d WHERE` (folder or %%lab name), else the current lab."""
        if where is None:
            if self.current is None:
                running = running_labs()
                hint = f" ({len(running)} lab(s) running: see %linfo)" if running else ""
                raise UserError(NO_LAB + hint)
            return self.current
        return self.lab_at(self.folder_of(where))

    def folder_of(self, where: str) -> Path:
        path = Path(where).expanduser()
        if path.is_dir():
            return path.resolve()
        named = text_lab_folder(where)
        if "/" not in where and named.is_dir():
            return named.resolve()
        raise UserError(f"no lab folder {where!r} (give a folder with lab.conf, or the name of a %%lab lab)")

    def lab_at(self, folder: Path, overrides: list[str] | None = None, fresh: bool = False,
               force: bool = False) -> Lab:
        """A Lab for folder, reusing this kernel's handle unless fresh (re-read lab.conf).

        A running lab is read as it was started (its overrides, and -F if it had no lab.conf).
        """
        key = str(folder.resolve())
        lab = self.labs.get(key)
        if lab is None or fresh or (overrides is not None and overrides != lab.overrides):
            started = Lab.started_overrides(folder)
            if overrides is None:
                overrides = started or []
            lab = Lab.from_dir(folder, overrides, force=force or started is not None)
            self.labs[key] = lab
        return lab

    def use(self, lab: Lab) -> Lab:
        self.current = lab
        self.labs[str(lab.directory)] = lab
        return lab

    @staticmethod
    def require_running(lab: Lab) -> Lab:
        if not lab.running:
            raise LabNotRunningError(f"lab {lab.model.name!r} is not running; start it with "
                                     f"%lstart -d {where(lab)} (or run its %%lab cell again)")
        return lab

    # -- ownership and clean-up ---------------------------------------------------
    def start_owner(self) -> Owner:
        """The owner record for a lab started now; starts the reaper on first use."""
        if self._reaper is None or self._reaper.poll() is not None:
            self._reaper = subprocess.Popen(
                selfrun.argv("nk_jupyter.jupyter.reaper", str(os.getpid())),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, env=selfrun.env(), cwd="/")
        return self.owner

    def owned_running(self) -> list[RunningLab]:
        return [r for r in running_labs() if r.owner.pid == os.getpid()]

    def shutdown(self) -> None:
        """Halt every lab this process started that still runs (atexit and kernel shutdown)."""
        for running in self.owned_running():
            halt_lab(running)


def halt_lab(running: RunningLab) -> None:
    """Halt a running lab (crash it if halting fails); a lab from a %%lab cell is crashed and
    removed instead: running the cell again rebuilds it from scratch, so its files would only
    pile up."""
    stop(running.directory, halt=True)
