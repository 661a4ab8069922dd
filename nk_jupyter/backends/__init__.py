"""Where machines come from: one small protocol, an explicit registry.

A backend has two halves, like RootlessKit's drivers:

    host half        prepare(request) -> Prepared
                     runs in the launcher before the supervisor exists (as the user, in the
                     host's namespaces): builds what the machines need (a template of host
                     files, container images), returns data for lab.json and descriptors
                     the supervisor receives in its handshake
    supervisor half  open(context) -> Session, once per lab, in the supervisor;
                     session.create(plans, plug) makes machines and returns a Handle each

The engine never looks inside a machine: it plugs links into handle.netns(), runs
commands with handle.spawn(), and learns of a machine's end through handle.pid.

Registered backends (BACKENDS): "namespaces" (a machine on the host's programs, each part
of its root copy-on-write) and "podman" (a machine on a container image's files, from the
user's rootless podman). Which one runs a machine is decided on the host side from the
image policy (IMAGE_POLICIES); the supervisor is told in lab.json.
"""
from __future__ import annotations

import importlib
from ..records import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ..errors import UserError
from ..model import Lab, Machine
from ..model.events import Event

# name -> module holding BACKEND (imported when first used: podman-py is not cheap)
BACKENDS = {"namespaces": "nk_jupyter.backends.namespaces", "podman": "nk_jupyter.backends.podman"}
from ..model.images import IMAGE_POLICIES  # noqa: E402  (--images: what a machine with image= runs on)


def get(name: str) -> "Backend":
    """The backend registered as name; a UserError naming the supported ones otherwise."""
    if name not in BACKENDS:
        raise UserError(f"backend {name!r} is not supported; supported: {', '.join(BACKENDS)}")
    return importlib.import_module(BACKENDS[name]).BACKEND


def check_policy(policy: str) -> str:
    if policy not in IMAGE_POLICIES:
        raise UserError(f"image policy {policy!r} is not supported; supported: {', '.join(IMAGE_POLICIES)} "
                        f"({'; '.join(f'{k}: {v}' for k, v in IMAGE_POLICIES.items())})")
    return policy


# -- the host half --------------------------------------------------------------------------
@dataclass
class HostServices:
    """What the launcher offers a backend's host half."""
    state_root: Path                                   # this user's nk state root
    remove_trees: Callable[[list[Path]], None]         # removes folders with sub-ID owned files
    in_use: Callable[[str, str], set[str]]             # (backend, key): that value in live labs' lab.json


@dataclass
class PrepareRequest:
    lab: Lab
    machines: list[str]                # the machines this backend was asked to run
    host: HostServices
    policy: str = "auto"
    progress: Callable[[Event], None] | None = None


@dataclass
class Prepared:
    conf: dict = field(default_factory=dict)        # merged into lab.json
    fds: list[int] = field(default_factory=list)    # sent to the supervisor (closed here after)
    machines: list[str] = field(default_factory=list)   # those it will run (others fall back)
    warnings: list[str] = field(default_factory=list)


# -- the supervisor half --------------------------------------------------------------------
@dataclass
class MachinePlan:
    """What the engine asks for: one machine of the lab, numbered in the lab."""
    machine: Machine
    index: int
    first_boot: bool            # no files kept from an earlier run (copy shared/ and MACHINE/ over /)
    default_sysctls: list[tuple[str, str]] = field(default_factory=list)  # before any interface exists
    sysctls: list[tuple[str, str]] = field(default_factory=list)          # the lab's, once they do
    sh: str = "dash"            # what /bin/sh is on host programs ("bash" for labs written for it)
    nameserver: str = ""        # with an uplink: its DNS address, written into /etc/resolv.conf


@dataclass
class Profile:
    """What a machine's userland is, for the commands the engine builds (engine/bootscript.py)."""
    env: dict[str, str]         # the base environment of its commands (PATH first)
    shells: tuple[str, ...]     # shells known to exist in it (others are looked for inside)


class Handle(Protocol):
    """A machine a backend made."""
    name: str
    pid: int            # its pid 1, in the lab's pid namespace: the machine ends when it does
    profile: Profile

    def alive(self) -> bool: ...
    def netns(self) -> int:
        """A descriptor of its network namespace (the handle's own, valid while it runs)."""
    def spawn(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int] | None,
              cwd: str | None = None, pty: tuple[int, int] | None = None, script: bool = False) -> tuple[int, int | None]:
        """Start argv in the machine as its root; returns (pid of what was spawned, pty master or None).
        script: argv is [bash, FILE], which may be run without bash when FILE is plain commands
        (helpers/script.h: the same commands, environment, messages and status as bash's)."""
    def spawn_soon(self, argv: list[str], env: dict[str, str], fds: tuple[int, int, int],
                   started: Callable[[int | OSError], None], script: bool = False) -> None:
        """spawn() without a pty and without waiting: started(pid) or started(OSError) once the
        machine's side has it, at once or later from the supervisor's loop (a boot asks for each
        startup while it makes the next machines)."""
    def signal(self, spawned: int, sig: int) -> None:
        """Signal what spawn() or spawn_soon() started (the command's process group)."""
    def kill(self) -> None: ...
    def memory_kib(self) -> int: ...


Plug = Callable[[MachinePlan, Handle], None]
"""Called by create() once a machine's netns exists, before it is ready: the engine plugs its links."""
Ready = Callable[[MachinePlan, Handle], None]
"""Called by create() as soon as a machine is ready, while others may still be made."""


class Session(Protocol):
    name: str

    def create(self, plans: list[MachinePlan], plug: Plug, ready: Ready | None = None
               ) -> list[tuple[MachinePlan, Handle | str]]:
        """Make machines (pipelined); each comes back with its handle, or why it could not be
        made. ready(plan, handle), if given, is called for each as soon as it is ready."""
    def stopped(self, name: str, keep: bool) -> list[str]:
        """A machine has stopped: keep its files for its next start (lhalt) or drop them (lcrash).
        Returns warnings."""
    def close(self) -> None: ...


@dataclass
class Context:
    """What a backend's supervisor half gets (engine/supervisor.py)."""
    state: object               # engine.statedir.StateDir
    lab: dict                   # lab.json
    conf: dict                  # this backend's part of it (Prepared.conf)
    fds: list[int]              # this backend's descriptors from the handshake (Prepared.fds)
    sessions: dict[str, Session] = field(default_factory=dict)   # those opened before this one
    emit: Callable[[Event], None] = lambda event: None
    run: str = ""               # this run of the lab's supervisor (its host pid): names its cgroups


class Backend(Protocol):
    name: str

    def prepare(self, request: PrepareRequest) -> Prepared: ...
    def open(self, context: Context) -> Session: ...


__all__ = ["BACKENDS", "IMAGE_POLICIES", "get", "check_policy", "Backend", "Session", "Handle", "Profile",
           "MachinePlan", "PrepareRequest", "Prepared", "Context", "Plug", "Ready", "HostServices"]
