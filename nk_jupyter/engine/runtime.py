"""The running lab inside the supervisor: machines, their states, boot order, links.

Everything here runs in the supervisor (root of the lab's user namespace, in the hub
netns). It never blocks for long: startups and commands are child processes whose
exits arrive through the supervisor's loop (see supervisor.py), which calls back here.

Machine states: booting -> running | failed (startup non-zero or timed out),
then halted (lhalt/vhalt) or crashed (lcrash/vcrash, or its init died).
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import wire
from ..backends.namespaces import Node, NodeStartError, nodeinit, runtime_files
from ..errors import LabAlreadyRunningError, UnknownMachineError, UserError
from ..linux import netlink, paths
from ..linux.cgroups import LabCgroups
from ..model import Interface, Lab, Machine
from ..model.macs import netkit_mac
from .statedir import StateDir

SHIMS = str(runtime_files.SHIMS)
INIT_TIMEOUT = 60.0  # a machine's init answers each stage within this (it runs only our code)
DEFAULT_PIDS = 1024  # processes and threads per machine unless lab.conf says pids=N


@dataclass
class Sandbox:
    """What the supervisor made once for all of a lab's machines (engine/supervisor.py)."""
    labfd: int              # the lab folder, O_PATH (bound on /hostlab by descriptor)
    usernsfd: int           # the machines' user namespace U2
    mapped: int             # user IDs mapped in the lab (1: a single-ID map)
    scratch: Path           # the lab's capped tmpfs: machine roots, /tmp, /run, /dev/shm
    disks_on_scratch: bool  # overlay upper dirs there too (tmpfs with user xattrs, Linux 6.6+)
    lab_pids: int           # the lab's process budget
    cgroups: LabCgroups | None = None


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
class MachineState:
    machine: Machine
    index: int
    node: Node | None = None
    state: str = "defined"
    detail: str = ""
    started_at: float = 0.0
    booted_at: float = 0.0
    startup_status: int | None = None
    first_error: str = ""                 # the first line its startup wrote to stderr
    missing: dict[str, str] = field(default_factory=dict)  # programs its startup lacked -> package
    cgroups: tuple[str, ...] = ()
    waiters: list[Callable[[], None]] = field(default_factory=list)


class LabRuntime:
    def __init__(self, lab: Lab, state: StateDir, template: str, full_map: bool, zygote, sandbox: Sandbox) -> None:
        self.lab, self.state, self.template, self.full_map = lab, state, template, full_map
        self.zygote = zygote
        self.sandbox = sandbox
        self.hub = netlink.Hub()
        self.host_top = nodeinit.host_top_level()
        self.machines: dict[str, MachineState] = {}
        self.listeners: list[Callable[[dict], None]] = []
        self._next_index = 0
        self.timing: dict[str, float] = {}
        self._init_time: dict[str, float] = {}
        self._warned: set[str] = set()
        self.watch_exit = None  # set by the supervisor: watch_exit(pid, callback)
        self.monitors = None  # set by the supervisor: engine/monitor.py

    # -- events -------------------------------------------------------------------
    def emit(self, event: dict) -> None:
        for fn in list(self.listeners):
            fn(event)

    def set_state(self, ms: MachineState, state: str, detail: str = "") -> None:
        ms.state, ms.detail = state, detail
        self.emit({"event": "machine", "machine": ms.machine.name, "state": state, "detail": detail})

    # -- lookups --------------------------------------------------------------------
    def get(self, name: str) -> MachineState:
        if name not in self.machines:
            known = [n for n, m in self.machines.items() if m.node] or list(self.lab.machines)
            raise UnknownMachineError(name, known)
        return self.machines[name]

    def running(self, name: str) -> MachineState:
        ms = self.get(name)
        if not ms.node or not ms.node.alive():
            raise UserError(f"machine {name!r} is not running ({ms.state})")
        return ms

    # -- creating nodes -------------------------------------------------------------
    def create(self, names: list[str]) -> list[str]:
        """Create the nodes (namespaces, root, links) of machines; returns those created."""
        todo = []
        for name in names:
            machine = self.lab.machine(name)
            ms = self.machines.get(name)
            if ms and ms.node and ms.node.alive():
                continue
            if not ms:
                ms = self.machines[name] = MachineState(machine, self._next_index)
                self._next_index += 1
            ms.machine = machine
            todo.append(ms)
        t0 = time.perf_counter()
        pending = []
        window = 16  # requests in flight to the zygote (more would fill the socket both ways)
        asked = []
        for i, ms in enumerate(todo):
            try:
                lay = self._layout(ms)
            except OSError as e:  # (its zygote request is not sent: the pipeline stays in step)
                self.set_state(ms, "failed", f"cannot prepare the node: {e.strerror or e}")
                continue
            self.zygote.request(lay)
            asked.append(ms)
            if len(asked) > window:
                self._take_node(asked[len(asked) - window - 1], pending)
        for ms in asked[max(0, len(asked) - window):]:
            self._take_node(ms, pending)
        t1 = time.perf_counter()
        created = []
        for ms, sock in pending:
            problem = self._await_ready(ms, sock)
            if problem:
                ms.node.kill()
                ms.node = None
                self.set_state(ms, "failed", f"cannot create the node: {problem}")
                continue
            created.append(ms.machine.name)
            if self.watch_exit:
                node = ms.node
                self.watch_exit(node.pid, lambda ms=ms, node=node: self._node_gone(ms, node))
            if self.monitors:
                self.monitors.watch(ms.machine.name, ms.node.pid)
            ms.started_at = time.time()
            self.set_state(ms, "created")
        self.timing = {"create_and_plug": t1 - t0, "nodes_ready": time.perf_counter() - t1,
                       "sum_of_node_root_builds": self._init_time.get("root_s", 0.0),
                       "sum_of_node_inits": self._init_time.get("all_s", 0.0),
                       "cpu_of_node_root_builds": self._init_time.get("root_cpu_s", 0.0)}
        self._init_time = {}
        return created

    def _node_gone(self, ms: MachineState, node: Node) -> None:
        """A machine's pid 1 exited: if nobody stopped it on purpose, it crashed."""
        if ms.node is node:
            ms.node = None
            node.kill()
            self._ports_gone(ms)
            if self.monitors:
                self.monitors.forget(ms.machine.name)
            self.set_state(ms, "crashed", "its init process exited")

    def _take_node(self, ms: MachineState, pending: list) -> None:
        """Receive the zygote's answer for ms; once its init is in its netns, plug its links
        (the init builds its root meanwhile)."""
        try:
            pid, sock = self.zygote.answer()
        except NodeStartError as e:
            self.set_state(ms, "failed", f"cannot create the node: {e}")
            return
        ms.node = Node(ms.machine.name, pid, ms.cgroups)
        sock.settimeout(INIT_TIMEOUT)
        try:
            msg = self._report(sock)
            if "error" in msg:
                raise OSError(msg["error"])
            self._plug(ms, sock)
        except Exception as e:  # pyroute2's NetlinkError is no OSError
            if not isinstance(e, (OSError, wire.ProtocolError, netlink.NetlinkError)):
                raise
            why = self._report(sock).get("error") if not ms.node.alive() else None
            sock.close()
            self._ports_gone(ms)
            ms.node.kill()
            ms.node = None
            self.set_state(ms, "failed", f"cannot wire the node: {why or e}")
            return
        pending.append((ms, sock))

    @staticmethod
    def _report(sock: socket.socket, fds: list[int] | None = None) -> dict:
        try:
            msg, got = wire.recv(sock)
        except EOFError:
            return {"error": "the node init died before reporting"}
        except socket.timeout:
            return {"error": f"the node init did not answer within {INIT_TIMEOUT:g} s"}
        if fds is None:
            for fd in got:
                os.close(fd)
        else:
            fds.extend(got)
        return msg

    def _await_ready(self, ms: MachineState, sock: socket.socket) -> str | None:
        try:
            for stage in ("rooted", "ready"):
                fds: list[int] = []
                msg = self._report(sock, fds)
                if stage == "rooted" and fds and "error" not in msg:
                    ms.node.pts_fd = fds.pop(0)
                for fd in fds:
                    os.close(fd)
                if "error" in msg:
                    return msg["error"]
                for key in ("root_s", "root_cpu_s", "all_s"):
                    self._init_time[key] = self._init_time.get(key, 0.0) + float(msg.get(key) or 0.0)
                self._report_problems(ms, msg)
            self._report(sock)  # EOF: the init has exec'd its tiny init (its socket is close-on-exec)
        except (OSError, wire.ProtocolError) as e:
            return str(e)
        finally:
            sock.close()
        return None

    def _report_problems(self, ms: MachineState, msg: dict) -> None:
        for text in list(msg.get("problems") or []) + list(msg.get("warnings") or []):
            self.emit({"event": "warning", "machine": ms.machine.name, "message": str(text)})

    def _plug(self, ms: MachineState, sock: socket.socket) -> None:
        m = ms.machine
        for num, iface in sorted(m.interfaces.items()):
            self.hub.plug(ms.node.pid, ms.index, num, iface.link, self.mac(m, iface))
        first_boot = not (self.state.node_dir(m.name) / ".configured").exists()
        wire.send(sock, {"up": ["lo"] + [f"eth{n}" for n in sorted(m.interfaces)],
                         "sysctls": list(m.options.sysctls.items()), "first_boot": first_boot,
                         "sh": "bash" if self.lab.sh_is_bash else "dash"})

    def _layout(self, ms: MachineState) -> nodeinit.NodeLayout:
        """Prepare a machine's folders on the scratch space and describe it for its init."""
        name, sb = ms.machine.name, self.sandbox
        where = sb.scratch / name
        if where.exists():
            paths.remove_tree(where)
        (where / "fresh").mkdir(parents=True)
        kept = self.state.node_dir(name)
        disk = kept
        if sb.disks_on_scratch:
            disk = where / "disk"
            if kept.is_dir():
                _copy_tree(kept, disk)
            else:
                disk.mkdir()
        nproc = min(ms.machine.options.pids or DEFAULT_PIDS, sb.lab_pids)  # never above the lab's
        if sb.mapped <= 1:  # one ID: every machine's user namespace has the same owner, so the
            nproc = sb.lab_pids  # per-machine budget is the lab's
        cgroup = ""
        opts = ms.machine.options
        ms.cgroups = ()
        if sb.cgroups:
            ms.cgroups = tuple(sb.cgroups.machine(name, opts.mem, opts.cpus, nproc))
            cgroup = ":".join(ms.cgroups)
        for option, controller in (("mem", "memory"), ("cpus", "cpu")):
            if getattr(opts, option) and not (sb.cgroups and sb.cgroups.d.can(controller)) \
                    and option not in self._warned:
                self._warned.add(option)
                self.emit({"event": "warning", "message": f"{option} is not enforced: no delegated cgroup with the "
                                                          f"{controller} controller (set NK_CGROUP, see docs/security.md)"})
        return nodeinit.NodeLayout(
            name=name, root=str(disk / "rootfs"), scratch=str(where / "fresh"), disk=str(disk),
            template=self.template, labdir=str(self.lab.directory), shims=SHIMS, host_top=self.host_top, labfd=sb.labfd,
            usernsfd=sb.usernsfd, owner_uid=1 + ms.index % (sb.mapped - 1) if sb.mapped > 1 else 0,
            nproc=nproc, cgroup=cgroup, sysctls=tuple(default_sysctls(ms.machine)))

    def keep_disk(self, name: str) -> None:
        """After a halt: keep the machine's files for its next boot (Netkit's .disk).

        A copy that cannot be made (the state dir is full, a tree too deep for cp) is said, and
        the machine's files are dropped: the lab goes on."""
        if self.sandbox.disks_on_scratch:
            disk = self.sandbox.scratch / name / "disk"
            kept = self.state.node_dir(name)
            marker = (kept / ".configured").exists()
            if disk.is_dir():
                if kept.exists():
                    paths.remove_tree(kept)
                try:
                    _copy_tree(disk, kept)
                    if marker:
                        (kept / ".configured").touch()
                except OSError as e:
                    paths.remove_tree(kept)
                    self.emit({"event": "warning", "machine": name,
                               "message": f"its files could not be kept for the next start: {e}"})
        self.forget_scratch(name)

    def forget_scratch(self, name: str) -> None:
        paths.remove_tree(self.sandbox.scratch / name)
        if self.sandbox.cgroups:
            self.sandbox.cgroups.forget(name)

    @staticmethod
    def mac(machine: Machine, iface: Interface) -> str:
        return iface.mac or netkit_mac(machine.name, iface.name)

    # -- hot-plug -------------------------------------------------------------------
    def vconfig(self, name: str, ifnum: int, domain: str | None) -> None:
        ms = self.running(name)
        m = ms.machine
        if domain:
            if ifnum in m.interfaces:
                raise UserError(f"{name} already has eth{ifnum} (on {m.interfaces[ifnum].link}); unplug it first with --eth{ifnum}=")
            iface = Interface(ifnum, domain)
            try:
                self.hub.plug(ms.node.pid, ms.index, ifnum, domain, self.mac(m, iface))
            except OSError as e:
                raise UserError(f"cannot plug {name} eth{ifnum} into {domain}: {e.strerror or e}") from None
            self.hub.links_up(ms.node.pid, [iface.name])
            m.interfaces[ifnum] = iface
        else:
            if ifnum not in m.interfaces:
                raise UserError(f"{name} has no eth{ifnum}")
            self.hub.unplug(ms.index, ifnum)
            del m.interfaces[ifnum]
        self.emit({"event": "links", "machine": name})

    # -- stopping -------------------------------------------------------------------
    def kill(self, name: str, state: str) -> None:
        ms = self.machines.get(name)
        if self.monitors:
            self.monitors.forget(name)
        if ms and ms.node:
            ms.node.kill()
            ms.node = None
            self._ports_gone(ms)
        if ms:
            self.set_state(ms, state)

    def _ports_gone(self, ms: MachineState) -> None:
        for num in ms.machine.interfaces:
            self.hub.forget(ms.index, num)

    def discard_disk(self, name: str) -> None:
        self.forget_scratch(name)
        paths.remove_tree(self.state.node_dir(name))

    def add_machine(self, machine: Machine) -> None:
        if machine.name in self.lab.machines and self.machines.get(machine.name) and self.machines[machine.name].node:
            raise LabAlreadyRunningError(f"machine {machine.name!r} is already running")
        self.lab.machines[machine.name] = machine


def _copy_tree(src: Path, dst: Path) -> None:
    """cp -a: a machine's disk as it is (sub-ID owners, overlay xattrs and whiteouts, symlinks
    as symlinks); sizes are bounded by the scratch space it came from or goes to. OSError
    (with cp's first complaint) if it fails."""
    r = subprocess.run(["cp", "-a", "--no-target-directory", str(src), str(dst)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode:
        lines = r.stderr.strip().splitlines()
        raise OSError(lines[0] if lines else f"cp exited with status {r.returncode}")
