"""Tables shown by %linfo and %vlist: HTML in notebooks, plain text in terminals.

Each table is a small object with _repr_html_ and __repr__, so IPython picks the right
form for the front end, and nbval compares the plain text. Nothing here changes from run
to run unless the lab does (no PIDs or memory unless asked for).
"""
from __future__ import annotations

import html
from ..records import dataclass, field

from ..api import MachineInfo, Owner, RunningLab, Topology

STATE_COLOURS = {"running": "#1a7f37", "booting": "#9a6700", "created": "#9a6700", "halting": "#9a6700",
                 "halted": "#57606a", "crashed": "#cf222e", "failed": "#cf222e", "defined": "#57606a"}


@dataclass
class Table:
    """A titled table of strings."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""
    state_column: int | None = None

    def __repr__(self) -> str:
        widths = [max([len(c)] + [len(r[i]) for r in self.rows]) for i, c in enumerate(self.columns)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows]
        if self.note:
            out.append(self.note)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th style='text-align:left'>{esc(c)}</th>" for c in self.columns)
        body = []
        for row in self.rows:
            cells = []
            for i, cell in enumerate(row):
                if i == self.state_column:
                    colour = STATE_COLOURS.get(cell.split()[0] if cell else "", "#57606a")
                    cells.append(f"<td style='text-align:left;color:{colour};font-weight:600'>{esc(cell)}</td>")
                else:
                    cells.append(f"<td style='text-align:left'>{esc(cell)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        note = f"<div style='color:#57606a'>{esc(self.note)}</div>" if self.note else ""
        return (f"<div class='nk-table'><b>{esc(self.title)}</b><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>{note}</div>")


def machine_table(lab_name: str, machines: list[MachineInfo], long: bool = False) -> Table:
    """%vlist: one row per machine of lab.info()."""
    images = any(m.image for m in machines)
    cols = ["machine", "state", "interfaces", "startup"] + (["image"] if images else []) + \
        (["pid", "memory"] if long else [])
    rows = []
    for m in sorted(machines, key=lambda m: m.name):
        ifaces = ", ".join(f"{i}={d}" for i, d in sorted(m.interfaces.items(), key=lambda kv: _num(kv[0])))
        status = m.startup_status
        startup = "" if status is None else ("ok" if status == 0 else f"exit {status}")
        state = m.state.value + (f" ({m.detail})" if m.detail else "")
        row = [m.name, state, ifaces, startup] + ([m.image] if images else [])
        if long:
            mem = m.memory_kib
            row += [str(m.pid or ""), f"{mem / 1024:.1f} MiB" if mem else ""]
        rows.append(row)
    return Table(f"Machines of lab {lab_name!r}", cols, rows, state_column=1)


def _started_by(owner: Owner | None, me: int) -> str:
    if owner is None:
        return ""
    return "this kernel" if owner.pid == me else "another kernel" if owner.kernel else "CLI / Python"


def lab_table(topology: Topology, directory: str, running: bool, owner: Owner | None = None, me: int = 0) -> Table:
    """%linfo: the lab's collision domains with their members, and a summary line."""
    states: dict[str, int] = {}
    for m in topology.machines:
        states[m.state.value] = states.get(m.state.value, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no machines"
    rows = [[d.name, ", ".join(d.members)] for d in topology.domains]
    who = f"; started by {_started_by(owner, me)}" if owner and running else ""
    on_images = ", ".join(f"{m.name} ({m.image})" for m in topology.machines if m.image)
    note = f"{'running' if running else 'not running'}: {summary}{who}" + (f"; on images: {on_images}" if on_images else "")
    place = f"in {directory}" if "/" in directory else "from a %%lab cell"
    return Table(f"Lab {topology.lab!r} {place}", ["collision domain", "interfaces"], rows, note)


def labs_table(labs: list[RunningLab], me: int) -> Table:
    """%linfo with no lab chosen: every running lab of this user."""
    rows = [[lab.name, str(lab.directory), _started_by(lab.owner, me)] for lab in labs]
    note = "attach with %lattach DIR" if rows else "no lab is running; start one with %lstart DIR or a %%lab cell"
    return Table("Running labs", ["lab", "folder", "started by"], rows, note)


def _num(iface: str) -> int:
    digits = "".join(ch for ch in iface if ch.isdigit())
    return int(digits) if digits else 0
