"""The Jupyter face of nk-jupyter: `%load_ext nk_jupyter` (or the "Netkit Lab" kernel).

Magics (each has help: `%lstart?`):
    %lstart %lhalt %lcrash %lclean %lrestart %lattach %linfo %ltopo   whole labs
    %%lab NAME                                                         a lab in one cell
    %vcmd / %%vcmd %vstart %vhalt %vcrash %vconfig %vlist              single machines
    %ltest %check                                 grading (nk_jupyter.grading.magics)

Modules: magics.py and vmagics.py (argument parsing), labops.py (starting labs),
cellformat.py (%%lab syntax), stream.py (%vcmd output and interrupts), widget.py
(TopologyView, the only ipycytoscape user), layout.py, live.py (event follower),
progress.py, tables.py, session.py (current lab, ownership, clean-up at kernel exit),
reaper.py, friendly.py (UserError -> UsageError), kernelspec.py (install the kernel).
Nothing heavy is imported until the extension is loaded.
"""
from __future__ import annotations

_LOADED: dict = {}


def load_ipython_extension(ip) -> None:
    """Register the magics on shell ip; labs started here are halted when it exits."""
    from .live import Followers
    from .magics import LabMagics
    from .session import Session
    from .vmagics import MachineMagics
    from .netmagics import NetMagics
    session, followers = Session(), Followers()
    lab_magics = LabMagics(ip, session, followers)
    machine_magics = MachineMagics(ip, session, followers)
    ip.register_magics(lab_magics, machine_magics, NetMagics(ip, session, followers))
    _LOADED[id(ip)] = (session, followers, lab_magics, machine_magics)
    try:  # %ltest and %check, when the grading part is installed
        from ..grading.magics import register as register_grading
    except ImportError:
        pass
    else:
        register_grading(ip)
    from .. import api, records  # noqa: F401  (the classes a first %%lab uses are made now, not in it)
    records.make_all()


def unload_ipython_extension(ip) -> None:
    """Remove the magics; running labs stay (they are halted when the kernel exits)."""
    entry = _LOADED.pop(id(ip), None)
    if entry is None:
        return
    _, _, *magic_objects = entry
    table = ip.magics_manager.magics
    for obj in magic_objects:
        for kind, names in obj.magics.items():
            for name in names:
                table[kind].pop(name, None)
    for name in ("ltest", "check"):
        table["line"].pop(name, None)
    # the old Session's atexit hook stays: labs are owned by pid and still halted at exit
