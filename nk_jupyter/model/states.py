"""A machine's state: one enum for the engine, the API and every face.

    defined -> created -> booting -> running | failed -> halting -> halted
                                   any state with a process   -> crashed

created: its namespaces exist and its links are plugged; booting: its startup runs;
failed: it could not be created, or its startup did not finish in time (a startup that
exits non-zero leaves it running, as in Netkit and Kathara).
"""
from __future__ import annotations

import enum


class MachineState(str, enum.Enum):
    DEFINED = "defined"
    CREATED = "created"
    BOOTING = "booting"
    RUNNING = "running"
    FAILED = "failed"
    HALTING = "halting"
    HALTED = "halted"
    CRASHED = "crashed"

    def __str__(self) -> str:
        return self.value

    @property
    def settled(self) -> bool:
        """Done booting, one way or the other (what lab.dep waits for)."""
        return self in (MachineState.RUNNING, MachineState.FAILED)

    @property
    def starting(self) -> bool:
        return self in (MachineState.CREATED, MachineState.BOOTING)


__all__ = ["MachineState"]
