"""The running lab inside the supervisor: machines, their states, their links.

Everything here runs in the supervisor (root of the lab's user namespace, in the hub
netns). It never blocks for long: startups and commands are child processes whose
exits arrive through the supervisor's loop (see supervisor.py), which calls back here.
Machines come from backends (nk_jupyter.backends) and are reached only through their
handles; the links between them are the engine's own (the hub's bridges).

Machine states: model/states.py.
"""
from __future__ import annotations

import time
from ..records import dataclass, field
from typing import Callable

from ..backends import Handle, MachinePlan, Session
from ..errors import LabAlreadyRunningError, UnknownMachineError, UserError
from ..linux import netlink
from ..model import Interface, Lab, Machine
from ..model.events import Event, LinksEvent, MachineEvent, WarningEvent
from ..model.macs import netkit_mac
from ..model.states import MachineState
from ..uplinks import nameserver
from .shaping import Shaper
from .statedir import StateDir


def default_sysctls(machine: Machine) -> list[tuple[str, str]]:
    """Kathara's defaults: forwarding on, rp_filter off, IPv6 per the ipv6 option, no DAD."""
    out = [("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.rp_filter", "0"),
           ("net.ipv4.conf.default.rp_filter", "0"), ("net.ipv4.icmp_ratelimit", "0")]
    if machine.options.ipv6:
        out += [("net.ipv6.conf.all.disable_ipv6", "0"), ("net.ipv6.conf.default.disable_ipv6", "0"),
                ("net.ipv6.conf.all.forwarding", "1"), ("net.ipv6.conf.all.accept_ra", "0"),
                ("net.ipv6.conf.default.accept_ra", "0"), ("net.ipv6.conf.all.accept_dad", "0"),
                ("net.ipv6.conf.default.accept_dad", "0"), ("net.ipv6.conf.default.dad_transmits", "0")]
    else:
        out += [("net.ipv6.conf.all.disable_ipv6", "1"), ("net.ipv6.conf.default.disable_ipv6", "1")]
    return out


@dataclass
class MachineRecord:
    machine: Machine
    index: int
    backend: str
    handle: Handle | None = None
    state: MachineState = MachineState.DEFINED
    detail: str = ""
    started_at: float = 0.0
    booted_at: float = 0.0
    startup_status: int | None = None
    first_error: str = ""                 # the first line its startup wrote to stderr
    missing: dict[str, str] = field(default_factory=dict)  # programs its startup lacked -> package
    files_dropped: bool = False           # stopped without keeping its files (lcrash) since it was made

    @property
    def up(self) -> bool:
        return bool(self.handle and self.handle.alive())


class LabRuntime:
    def __init__(self, lab: Lab, state: StateDir, sessions: dict[str, Session], machine_backends: dict[str, str],
                 watch_exit: Callable[[int, Callable[[], None]], None]) -> None:
        self.lab, self.state = lab, state
        self.sessions = sessions
        self.machine_backends = machine_backends  # name -> backend (the namespaces one otherwise)
        self.watch_exit = watch_exit
        self.hub = netlink.Hub()
        self.shaper = Shaper(self.hub)
        self.machines: dict[str, MachineRecord] = {}
        self.listeners: list[Callable[[Event], None]] = []
        self.monitors = None  # engine/monitor.py, once the supervisor has made it
        self.uplinks = None   # uplinks.Uplinks: the host-side helper, once the supervisor has made it
        self._next_index = 0
        self.timing: dict[str, float] = {}
        self.send_events_now: Callable[[], None] = lambda: None  # before what may block for long (the loop's)

    # -- events -------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        for fn in list(self.listeners):
            fn(event)

    def set_state(self, rec: MachineRecord, state: MachineState, detail: str = "") -> None:
        rec.state, rec.detail = state, detail
        self.emit(MachineEvent(rec.machine.name, state, detail))

    # -- lookups --------------------------------------------------------------------
    def get(self, name: str) -> MachineRecord:
        if name not in self.machines:
            known = [n for n, r in self.machines.items() if r.handle] or list(self.lab.machines)
            raise UnknownMachineError(name, known)
        return self.machines[name]

    def running(self, name: str) -> MachineRecord:
        rec = self.get(name)
        if not rec.up:
            raise UserError(f"machine {name!r} is not running ({rec.state})")
        return rec

    def session_of(self, rec: MachineRecord) -> Session:
        return self.sessions[rec.backend]

    # -- creating machines ----------------------------------------------------------
    def create(self, names: list[str], on_ready: Callable[[str], None] | None = None) -> list[str]:
        """Make the machines (namespaces, root, links), backend by backend; returns those made.
        on_ready(name) is called for each as soon as it is made (its startup may begin)."""
        groups: dict[str, list[MachinePlan]] = {}
        for name in names:
            machine = self.lab.machine(name)
            rec = self.machines.get(name)
            if rec and rec.up:
                continue
            if not rec:
                backend = self.machine_backends.get(name, "namespaces")
                rec = self.machines[name] = MachineRecord(machine, self._next_index, backend)
                self._next_index += 1
            rec.machine = machine
            first_boot = not (self.state.node_dir(name) / ".configured").exists()
            groups.setdefault(rec.backend, []).append(MachinePlan(
                machine, rec.index, first_boot, default_sysctls(machine), list(machine.options.sysctls.items()),
                "bash" if self.lab.sh_is_bash else "dash",
                nameserver=nameserver(machine, self.uplinks.options) if self.uplinks else ""))
        created = []
        self.timing = {}

        def ready(plan: MachinePlan, handle: Handle) -> None:
            rec = self.machines[plan.machine.name]
            rec.handle = handle
            created.append(rec.machine.name)
            self.watch_exit(handle.pid, lambda rec=rec, handle=handle: self._gone(rec, handle))
            if self.monitors:
                self.monitors.watch(rec.machine.name, handle)
            rec.started_at = time.time()
            rec.files_dropped = False
            self.set_state(rec, MachineState.CREATED)
            if on_ready is not None:
                on_ready(rec.machine.name)
        for backend, plans in groups.items():
            self.send_events_now()  # (an image group's creation can take seconds)
            session = self.sessions[backend]
            for plan, result in session.create(plans, self._plug, ready):
                rec = self.machines[plan.machine.name]
                if isinstance(result, str):
                    self._ports_gone(rec)
                    self.set_state(rec, MachineState.FAILED, result)
            for key, value in getattr(session, "timing", {}).items():
                self.timing[key] = self.timing.get(key, 0.0) + value
        return created

    def _plug(self, plan: MachinePlan, handle: Handle) -> None:
        """A machine's netns exists: plug its interfaces into their domains' bridges."""
        m = plan.machine
        netns = handle.netns()
        for num, iface in sorted(m.interfaces.items()):
            self.hub.plug(netns, plan.index, num, iface.link, self.mac(m, iface))
        for num, shape in sorted(m.options.shapes.items()):
            if num in m.interfaces:
                self.emit_warnings(m.name, self.shaper.apply(plan.index, num, shape))
        if self.uplinks and (m.options.bridged or m.options.taps or m.options.ports):
            self.send_events_now()  # (an uplink may take seconds to come up)
            try:
                self.emit_warnings(m.name, self.uplinks.machine_up(m, netns))
            except (OSError, EOFError) as e:  # the helper is gone: the machine runs without them
                self.emit_warnings(m.name, [f"no uplinks or ports: the lab's host-side helper is gone ({e})"])

    def emit_warnings(self, name: str, warnings: list[str]) -> None:
        for text in warnings:
            self.emit(WarningEvent(text, name))

    def _gone(self, rec: MachineRecord, handle: Handle) -> None:
        """A machine's pid 1 exited: if nobody stopped it on purpose, it crashed."""
        if rec.handle is handle:
            rec.handle = None
            handle.kill()
            self._ports_gone(rec)
            if self.monitors:
                self.monitors.forget(rec.machine.name)
            self.set_state(rec, MachineState.CRASHED, "its init process exited")

    @staticmethod
    def mac(machine: Machine, iface: Interface) -> str:
        return iface.mac or netkit_mac(machine.name, iface.name)

    # -- hot-plug -------------------------------------------------------------------
    def vconfig(self, name: str, ifnum: int, domain: str | None) -> None:
        rec = self.running(name)
        m = rec.machine
        if domain:
            if ifnum in m.interfaces:
                raise UserError(f"{name} already has eth{ifnum} (on {m.interfaces[ifnum].link}); unplug it first with --eth{ifnum}=")
            iface = Interface(ifnum, domain)
            netns = rec.handle.netns()
            try:
                self.hub.plug(netns, rec.index, ifnum, domain, self.mac(m, iface))
            except (OSError, netlink.NetlinkError) as e:  # (the kernel's refusal is no OSError)
                why = getattr(e, "strerror", None) or (e.args[-1] if e.args else e)
                raise UserError(f"cannot plug {name} eth{ifnum} into {domain}: {why}") from None
            self.hub.links_up(netns, [iface.name])
            m.interfaces[ifnum] = iface
        else:
            if ifnum not in m.interfaces:
                raise UserError(f"{name} has no eth{ifnum}")
            self.hub.unplug(rec.index, ifnum)
            del m.interfaces[ifnum]
        self.emit(LinksEvent(name))

    # -- stopping -------------------------------------------------------------------
    def kill(self, name: str, state: MachineState) -> None:
        rec = self.machines.get(name)
        if self.monitors:
            self.monitors.forget(name)
        if rec and rec.handle:
            rec.handle.kill()
            rec.handle = None
            self._ports_gone(rec)
        if rec:
            self.set_state(rec, state)

    def stopped(self, name: str, keep: bool) -> None:
        """After a machine stopped: its backend keeps (lhalt) or drops (lcrash) its files."""
        rec = self.machines[name]
        rec.files_dropped = rec.files_dropped or not keep
        for text in self.session_of(rec).stopped(name, keep):
            self.emit(WarningEvent(text, name))

    def _ports_gone(self, rec: MachineRecord) -> None:
        for num in rec.machine.interfaces:
            self.hub.forget(rec.index, num)
            self.shaper.forget(rec.index, num)
        if self.uplinks:
            self.uplinks.machine_down(rec.machine.name)

    def add_machine(self, machine: Machine) -> None:
        rec = self.machines.get(machine.name)
        if machine.name in self.lab.machines and rec and rec.handle:
            raise LabAlreadyRunningError(f"machine {machine.name!r} is already running")
        self.lab.machines[machine.name] = machine

    def close(self) -> None:
        for rec in self.machines.values():
            if rec.handle:
                rec.handle.kill()
        for session in self.sessions.values():
            session.close()
