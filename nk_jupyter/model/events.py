"""What a running lab announces (to Lab.start's progress callback and Lab.events()).

One dataclass per kind of event; on the supervisor socket each travels as
{"event": KIND, ...its fields} (nk_jupyter.wire). Faces match on the class:

    def progress(ev):
        if isinstance(ev, MachineEvent): print(ev.machine, ev.state)
"""
from __future__ import annotations

from ..records import dataclass, field
from typing import ClassVar, Union

from .states import MachineState


@dataclass(frozen=True)
class MachineEvent:
    """A machine changed state."""
    KIND: ClassVar[str] = "machine"
    machine: str
    state: MachineState
    detail: str = ""


@dataclass(frozen=True)
class LinksEvent:
    """A machine's links, addresses or routes changed (a hot-plug, or something inside it)."""
    KIND: ClassVar[str] = "links"
    machine: str
    what: str = "links"


@dataclass(frozen=True)
class WarningEvent:
    """Something the user should know; the lab goes on."""
    KIND: ClassVar[str] = "warning"
    message: str
    machine: str = ""


@dataclass(frozen=True)
class MissingEvent:
    """A machine's startup ran programs this host lacks: {program: Debian package}."""
    KIND: ClassVar[str] = "missing"
    machine: str
    programs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PullEvent:
    """An image is being fetched for a machine (host side, before the lab boots)."""
    KIND: ClassVar[str] = "pull"
    image: str
    text: str
    done: bool = False


Event = Union[MachineEvent, LinksEvent, WarningEvent, MissingEvent, PullEvent]
EVENTS: dict[str, type] = {cls.KIND: cls for cls in (MachineEvent, LinksEvent, WarningEvent, MissingEvent, PullEvent)}

__all__ = ["Event", "EVENTS", "MachineEvent", "LinksEvent", "WarningEvent", "MissingEvent", "PullEvent"]
