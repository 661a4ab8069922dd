"""The NkError tree: user mistakes versus engine failures.

- UserError: something the user can fix (a lab file, an argument, the host set-up).
  Faces print it as one line, never with a traceback.
- EngineError: the supervisor died or misbehaved; carries the tail of its log.
- ExecError: a command in a machine exited non-zero where success was required.

Bugs (TypeError, AssertionError ...) are never caught or wrapped.
"""
from __future__ import annotations

import os


class NkError(Exception):
    """Root of every error nk raises on purpose."""


class UserError(NkError):
    """A mistake the user can fix; shown as one line."""


class LabConfError(UserError):
    """A lab file is malformed; names the file and the line."""

    def __init__(self, path: str | os.PathLike, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class UnknownMachineError(UserError):
    """A machine name that is not in the lab."""

    def __init__(self, name: str, known: list[str] | tuple[str, ...]) -> None:
        self.name = name
        self.known = list(known)
        names = ", ".join(sorted(self.known)) or "(none)"
        super().__init__(f"no machine named {name!r}; this lab has: {names}")


class LabNotRunningError(UserError):
    """No supervisor serves this lab."""


class LabAlreadyRunningError(UserError):
    """The lab (or a machine of it) is already running."""


class HostSetupError(UserError):
    """The host cannot run rootless labs; the message says the exact fix."""


class EngineError(NkError):
    """The supervisor failed; carries the tail of its log."""


class ExecError(NkError):
    """A command in a machine exited non-zero where success was required."""

    def __init__(self, machine: str, command: str, status: int, stdout: str = "", stderr: str = "") -> None:
        self.machine, self.command, self.status = machine, command, status
        self.stdout, self.stderr = stdout, stderr
        tail = (stderr or stdout).strip().splitlines()[-5:]
        detail = ("\n" + "\n".join(tail)) if tail else ""
        super().__init__(f"{machine}: {command!r} exited with status {status}{detail}")


# Errors cross the supervisor socket as {"kind": class name, "message": ..., "fields": {...}}.
BY_KIND: dict[str, type[NkError]] = {
    cls.__name__: cls
    for cls in (NkError, UserError, LabConfError, UnknownMachineError, LabNotRunningError,
                LabAlreadyRunningError, HostSetupError, EngineError, ExecError)
}
FIELDS = {LabConfError: ("path", "line", "message"), UnknownMachineError: ("name", "known")}


def to_wire(err: Exception) -> dict:
    """The reply frame for an error raised in the supervisor."""
    fields = {f: getattr(err, f) for f in FIELDS.get(type(err), ())}
    return {"ok": False, "kind": type(err).__name__, "message": str(err), "fields": fields}


def from_wire(kind: str, message: str, fields: dict | None = None) -> NkError:
    """Rebuild an error sent by the supervisor, as the same class where we can."""
    cls = BY_KIND.get(kind, EngineError)
    if cls in FIELDS and fields and set(fields) == set(FIELDS[cls]):
        return cls(**fields)
    if cls in FIELDS or cls is ExecError:
        cls = EngineError if cls is ExecError else UserError
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    return err
