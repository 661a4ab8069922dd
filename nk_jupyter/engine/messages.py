"""Every message between a client and a lab supervisor, and between the launcher and a
supervisor starting up: one dataclass each, on nk_jupyter.wire's framing.

API socket (STATE/api.sock):
    client -> {"op": OP, ...fields of the request}        (+ descriptors for exec)
    supervisor -> {"event": KIND, ...} (model/events.py) while a long operation runs,
                  then {"ok": true, ...fields of the reply}
                  or {"ok": false, "kind": ERROR_CLASS, "message": TEXT, "fields": {...}}
Which reply answers which request is REQUESTS[op] -> (request class, reply class).

Launcher handshake (a socketpair; RootlessKit's parent/child messages):
    supervisor -> ChildHello            its user namespace exists; please map it
    launcher   -> ParentMapped          done (full: sub-ID ranges were mapped)
    supervisor -> ChildReady            it serves api.sock   (or ChildFailed)

API_VERSION changes when a message changes; the launcher writes it into lab.json and
clients check it before they speak (EngineClient).
"""
from __future__ import annotations

from ..records import dataclass, field
from typing import ClassVar

from ..model.states import MachineState
from ..model.topology import Topology
from .api_version import API_VERSION


# -- requests ---------------------------------------------------------------------------
@dataclass
class Hello:
    OP: ClassVar[str] = "hello"


@dataclass
class Info:
    OP: ClassVar[str] = "info"
    memory: bool = False


@dataclass
class Subscribe:
    OP: ClassVar[str] = "subscribe"


@dataclass
class Start:
    OP: ClassVar[str] = "start"
    machines: list[str] = field(default_factory=list)  # [] = all, in lab.dep order
    fast: bool = False
    timeout: float = 300.0
    parallel: int = 0


@dataclass
class VStart:
    OP: ClassVar[str] = "vstart"
    name: str = ""
    interfaces: dict[str, str] = field(default_factory=dict)  # {"0": "A"}
    exec: list[str] = field(default_factory=list)
    fast: bool = False
    timeout: float = 300.0


@dataclass
class Exec:
    """Run a command; stdin, stdout and stderr travel as descriptors, or pty=[rows, cols]."""
    OP: ClassVar[str] = "exec"
    machine: str | None = None     # None: the lab's hub
    command: str | None = None     # a command line (the machine's shell decides) ...
    argv: list[str] | None = None  # ... or an argv
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    pty: list[int] | None = None
    login: bool = False            # neither: the machine's login shell (lab.conf shell=, else bash, else sh)


@dataclass
class Signal:
    """Sent on an exec's connection while its command runs."""
    OP: ClassVar[str] = "signal"
    signal: str = "INT"


@dataclass
class Halt:
    OP: ClassVar[str] = "halt"
    machines: list[str] = field(default_factory=list)


@dataclass
class Crash:
    OP: ClassVar[str] = "crash"
    machines: list[str] = field(default_factory=list)
    keep_disk: bool = False


@dataclass
class Shutdown:
    OP: ClassVar[str] = "shutdown"


@dataclass
class VConfig:
    OP: ClassVar[str] = "vconfig"
    machine: str = ""
    interfaces: dict[str, str | None] = field(default_factory=dict)  # {"1": "B"}; None unplugs


@dataclass
class GetTopology:
    OP: ClassVar[str] = "topology"


@dataclass
class PortAdd:
    """Publish a port to a running machine (nk port add)."""
    OP: ClassVar[str] = "port_add"
    machine: str
    spec: str                      # model/uplinks.PortSpec text


@dataclass
class PortRemove:
    OP: ClassVar[str] = "port_rm"
    spec: str


@dataclass
class PortList:
    OP: ClassVar[str] = "port_ls"


@dataclass
class ShapeSet:
    """Shape a machine's interface, or every interface of a collision domain (nk vshape)."""
    OP: ClassVar[str] = "shape"
    shape: str                     # "rate=10mbit loss=1%" ("" removes the shaping)
    machine: str = ""
    interface: int | None = None
    domain: str = ""


@dataclass
class Capture:
    """Capture a collision domain's frames (pcap on the descriptor sent as stdout)."""
    OP: ClassVar[str] = "capture"
    domain: str
    count: int = 0                 # 0: until stopped
    snaplen: int = 262144


# -- replies ----------------------------------------------------------------------------
@dataclass
class Ok:
    pass


@dataclass
class HelloReply:
    api: int
    lab: str
    directory: str
    supervisor_pid: int


@dataclass
class MachineInfo:
    name: str
    state: MachineState
    detail: str = ""
    pid: int | None = None            # its init, in the lab's pid namespace
    memory_kib: int | None = None     # with Info(memory=True)
    startup_status: int | None = None
    interfaces: dict[str, str] = field(default_factory=dict)  # {"eth0": "A"}
    backend: str = ""                  # "namespaces", "podman"
    image: str = ""


@dataclass
class InfoReply:
    machines: list[MachineInfo] = field(default_factory=list)


@dataclass
class StartupReport:
    """A startup that exited non-zero, or used programs this host lacks."""
    status: int | None = None
    error: str = ""                   # the first line it wrote to stderr
    missing: dict[str, str] = field(default_factory=dict)  # program -> Debian package


@dataclass
class StartResult:
    machines: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)     # why each failed one failed
    startups: dict[str, StartupReport] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every machine asked for is up (a startup's own exit status aside, as in Netkit)."""
        return not self.failed


@dataclass
class ExecStarted:
    """The command runs (a pty master descriptor comes with it for pty=)."""
    pass


@dataclass
class ExecStatus:
    status: int


@dataclass
class StopReply:
    machines: list[str] = field(default_factory=list)
    supervisor_exits: bool = False


@dataclass
class TopologyReply:
    topology: Topology


@dataclass
class PortInfo:
    machine: str
    spec: str                      # "127.0.0.1:8080:80/tcp"


@dataclass
class PortsReply:
    ports: list[PortInfo] = field(default_factory=list)


@dataclass
class ShapeReply:
    shaped: list[str] = field(default_factory=list)   # "pc1 eth0"


@dataclass
class SubscribeReply:
    subscribed: bool = True


REQUESTS: dict[str, tuple[type, type]] = {
    cls.OP: (cls, reply) for cls, reply in (
        (Hello, HelloReply), (Info, InfoReply), (Subscribe, SubscribeReply), (Start, StartResult),
        (VStart, StartResult), (Exec, ExecStarted), (Halt, StopReply), (Crash, StopReply),
        (Shutdown, Ok), (VConfig, Ok), (GetTopology, TopologyReply), (PortAdd, PortsReply),
        (PortRemove, PortsReply), (PortList, PortsReply), (ShapeSet, ShapeReply), (Capture, ExecStarted))
}


# -- the launcher's handshake ---------------------------------------------------------------
@dataclass
class ChildHello:
    """The supervisor has made its user namespace."""
    pid: int


@dataclass
class ParentMapped:
    full: bool   # sub-ID ranges mapped (False: only the user's own ID)


@dataclass
class ChildReady:
    pass


@dataclass
class ChildFailed:
    kind: str
    message: str
    fields: dict = field(default_factory=dict)


HANDSHAKE: dict[str, type] = {cls.__name__: cls for cls in (ChildHello, ParentMapped, ChildReady, ChildFailed)}


def handshake_frame(message) -> dict:
    from .. import wire
    return {"msg": type(message).__name__, **wire.encode(message)}


def handshake_parse(frame: dict):
    """A handshake frame as its message; wire.ProtocolError if it is none."""
    from .. import wire
    kind = HANDSHAKE.get(frame.get("msg"))
    if kind is None:
        raise wire.ProtocolError(f"handshake: unknown message {frame.get('msg')!r}")
    return wire.decode(kind, {k: v for k, v in frame.items() if k != "msg"}, f"handshake {kind.__name__}")


__all__ = ["API_VERSION", "REQUESTS", "HANDSHAKE", "handshake_frame", "handshake_parse"]
