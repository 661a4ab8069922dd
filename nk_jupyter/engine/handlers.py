"""The supervisor's API operations: one method per request of engine/messages.py, found in
OPS (booting is boot.py).

Long operations (start, halt, exec) answer later, from loop callbacks; meanwhile they
stream events (model/events.py) to the client that asked.
"""
from __future__ import annotations

import os
import signal
import socket
import time
from typing import Callable

from .. import wire
from ..errors import NkError, UserError, to_wire
from ..linux import spawn
from ..model import Interface, Machine, MachineOptions
from ..model.events import Event
from ..model.names import check_domain_name, check_machine_name
from ..model.states import MachineState as S
from . import bootscript, messages as msg
from .boot import Boot
from .logs import LogRelay
from .loop import Loop
from .runtime import LabRuntime

HALT_TIMEOUT = 30.0
HUB_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "TERM": "xterm",
           "PS1": "nk-hub# "}


# Events go out together: the first after a quiet spell at once, then those of one loop turn,
# or of EVENTS_DELAY while a long request (a boot) runs, in one write (a boot of N machines
# sends 3N events: one write and one wakeup of the client each, before). A reply or an error
# sends what is waiting first, then itself; the runtime sends what waits before it may block
# for long (LabRuntime.send_events_now: an image group, an uplink).
EVENTS_DELAY = 0.02
EVENTS_BYTES = 1 << 16


class Conn:
    """One client connection (its socket leaves the loop when it closes, whoever closes it)."""

    def __init__(self, sock: socket.socket, loop: Loop) -> None:
        self.sock, self.loop = sock, loop
        self.closed = False
        self.on_close: list = []
        self.on_message: Callable[[dict, list[int]], None] | None = None
        self._events = bytearray()
        self._since = self._last_write = 0.0

    def _send(self, frame: dict, fds: list[int] | None = None) -> None:
        self.flush(wire.frame(frame), fds)

    def flush(self, more: bytes = b"", fds: list[int] | None = None) -> None:
        """Send the waiting events, then more (with fds: in a write of its own, so that the
        descriptors arrive with the frame they belong to, as the client reads them)."""
        if fds and self._events:
            self.flush()
        data = bytes(self._events) + more if self._events else more
        self._events.clear()
        if self.closed or not data:
            return
        try:
            wire.send_frames(self.sock, data, fds or ())
            self._last_write = time.monotonic()
        except OSError:
            self.close()

    def reply(self, reply, fds: list[int] | None = None) -> None:
        self._send({"ok": True, **wire.encode(reply)}, fds)

    def event(self, event: Event) -> None:
        if self.closed:
            return
        now = time.monotonic()
        data = wire.frame({"event": event.KIND, **wire.encode(event)})
        if not self._events and now - self._last_write >= EVENTS_DELAY:
            return self.flush(data)  # the first after a quiet spell goes at once
        if not self._events:
            self._since = now
            self.loop.at_turn_end(self.flush)
        self._events += data
        if len(self._events) >= EVENTS_BYTES or now - self._since >= EVENTS_DELAY:
            self.flush()

    def error(self, err: Exception) -> None:
        self._send(to_wire(err))

    def close(self) -> None:
        if self._events:
            self.flush()  # (which closes us if the client has gone)
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock)
            for fn in self.on_close:
                fn()
            self.sock.close()


def _interfaces(raw: dict[str, str | None], unplug: bool) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for num, domain in raw.items():
        if not str(num).isdigit() or int(num) > 1023:
            raise UserError(f"interface number {num!r}: use 0 to 1023")
        out[int(num)] = check_domain_name(domain) if domain or not unplug else None
    return out


class Handlers:
    def __init__(self, rt: LabRuntime, loop: Loop, host_pid: int) -> None:
        self.rt, self.loop, self.host_pid = rt, loop, host_pid
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.logs = LogRelay(loop)

    # -- info ---------------------------------------------------------------------
    def hello(self, conn: Conn, req: msg.Hello, fds: list[int]) -> None:
        conn.reply(msg.HelloReply(msg.API_VERSION, self.rt.lab.name, str(self.rt.lab.directory), self.host_pid))

    def info(self, conn: Conn, req: msg.Info, fds: list[int]) -> None:
        out = []
        for name, rec in self.rt.machines.items():
            up = rec.up
            out.append(msg.MachineInfo(
                name=name, state=rec.state, detail=rec.detail, pid=rec.handle.pid if up else None,
                memory_kib=rec.handle.memory_kib() if up and req.memory else None, startup_status=rec.startup_status,
                interfaces={f"eth{n}": i.link for n, i in sorted(rec.machine.interfaces.items())},
                backend=rec.backend, image=rec.machine.options.image or "" if rec.backend == "podman" else ""))
        conn.reply(msg.InfoReply(out))

    def subscribe(self, conn: Conn, req: msg.Subscribe, fds: list[int]) -> None:
        listener = conn.event
        self.rt.listeners.append(listener)
        self.rt.monitors.subscribe()

        def leave() -> None:
            self.rt.listeners.remove(listener)
            self.rt.monitors.unsubscribe()
        conn.on_close.append(leave)
        conn.reply(msg.SubscribeReply())

    # -- boot -----------------------------------------------------------------------
    def start(self, conn: Conn, req: msg.Start, fds: list[int]) -> None:
        for name in req.machines:
            self.rt.lab.machine(check_machine_name(name))
        names = [n for level in self.rt.lab.boot_levels(req.machines or None) for n in level]
        Boot(self.rt, self.loop, conn.event, conn.reply, self.logs, self.devnull, names, req.fast, req.timeout, req.parallel).run()

    def vstart(self, conn: Conn, req: msg.VStart, fds: list[int]) -> None:
        name = check_machine_name(req.name)
        ifaces = {n: Interface(n, d) for n, d in _interfaces(req.interfaces, unplug=False).items()}
        m = Machine(name, ifaces, MachineOptions(exec_commands=[str(c) for c in req.exec]))
        self.rt.add_machine(m)
        Boot(self.rt, self.loop, conn.event, conn.reply, self.logs, self.devnull, [name], req.fast, req.timeout, 0).run()

    # -- exec -----------------------------------------------------------------------
    def exec(self, conn: Conn, req: msg.Exec, fds: list[int]) -> None:
        pty = tuple(req.pty) if req.pty else None
        if pty and (len(pty) != 2 or not all(0 <= n < 10000 for n in pty)):
            raise UserError("pty: give [rows, columns]")
        master = None
        try:
            if not pty and len(fds) != 3:
                raise UserError("exec needs stdin, stdout and stderr descriptors, or a pty")
            std = tuple(fds) if not pty else None
            if req.machine is None:
                env = {**HUB_ENV, **req.env}
                argv = req.argv or ["/bin/bash", "-c", req.command or ""]
                prog = spawn.which(argv[0], env["PATH"]) or argv[0]
                if pty:
                    proc, master = spawn.spawn_on_pty(prog, argv, env, pty)
                else:
                    proc = spawn.spawn_here(prog, argv, env, std)
                signal_it = spawn.signal_started
            else:
                rec = self.rt.running(check_machine_name(req.machine))
                handle = rec.handle
                if req.argv:
                    argv = req.argv
                elif req.login:
                    argv = bootscript.shell_argv(rec.machine, handle.profile, "-l")
                elif req.command is not None:
                    argv = bootscript.command_argv(rec.machine, handle.profile, req.command)
                else:
                    raise UserError("exec needs a command or an argv")
                env = bootscript.environment(rec.machine, handle.profile, req.env)
                proc, master = handle.spawn(argv, env, std, req.cwd, pty)
                signal_it = handle.signal
        finally:
            for fd in fds:
                os.close(fd)
        conn.reply(msg.ExecStarted(), fds=[master] if master is not None else None)
        if master is not None:
            os.close(master)
        self._follow(conn, proc, signal_it)

    def _follow(self, conn: Conn, proc: int, signal_it) -> None:
        """Relay the client's signals to a started process; its exit status ends the request."""
        state = {"done": False}

        def on_message(frame: dict, extra: list[int]) -> None:
            for fd in extra:
                os.close(fd)
            try:
                sig = wire.decode(msg.Signal, {k: v for k, v in frame.items() if k != "op"}, "signal")
            except wire.ProtocolError:
                return
            if frame.get("op") == msg.Signal.OP and not state["done"]:
                signal_it(proc, spawn.SIGNALS.get(sig.signal, signal.SIGTERM))

        def hangup() -> None:
            if not state["done"]:
                signal_it(proc, signal.SIGHUP)

        def exited(code: int) -> None:
            state["done"] = True
            conn.reply(msg.ExecStatus(code))
        conn.on_message = on_message
        conn.on_close.append(hangup)
        self.loop.watch_child(proc, exited)

    # -- stop -----------------------------------------------------------------------
    def halt(self, conn: Conn, req: msg.Halt, fds: list[int]) -> None:
        names = self._targets(req.machines)
        left = set(names)
        if not left:
            return self._after_stop(conn, req.machines, names)
        for name in names:
            rec = self.rt.machines[name]
            if not rec.up:
                left.discard(name)
                continue
            log = self.logs.pipe(self.rt.state.startup_log(name))
            handle = rec.handle
            try:
                proc, _ = handle.spawn(["/bin/sh", "-c", bootscript.halt(rec.machine)],
                                       bootscript.environment(rec.machine, handle.profile), (self.devnull, log.fd, log.fd))
            except OSError:
                log.close_writer()
                self.rt.kill(name, S.HALTED)
                left.discard(name)
                continue
            log.close_writer()
            self.rt.set_state(rec, S.HALTING)
            timer = self.loop.call_later(HALT_TIMEOUT, lambda r=proc, h=handle: h.signal(r, signal.SIGKILL))

            def exited(code: int, name=name, timer=timer) -> None:
                self.loop.cancel(timer)
                self.rt.kill(name, S.HALTED)
                self.rt.stopped(name, keep=True)
                left.discard(name)
                if not left:
                    self._after_stop(conn, req.machines, names)
            self.loop.watch_child(proc, exited)
        if not left:
            self._after_stop(conn, req.machines, names)

    def crash(self, conn: Conn, req: msg.Crash, fds: list[int]) -> None:
        names = self._targets(req.machines)
        # when the whole lab stops, its scratch space goes with it and the client removes the
        # state dir (Lab.crash): no per-machine clean-up
        whole = not req.machines or set(names) >= {n for n, r in self.rt.machines.items() if r.handle}
        for name in names:
            self.rt.kill(name, S.CRASHED)
            if req.keep_disk or not whole:
                self.rt.stopped(name, keep=req.keep_disk)
        self._after_stop(conn, req.machines, names)

    def _targets(self, machines: list[str]) -> list[str]:
        names = machines or [n for n, r in self.rt.machines.items() if r.handle]
        for n in names:
            self.rt.get(check_machine_name(n))
        return list(reversed(names))

    def _after_stop(self, conn: Conn, asked: list[str], names: list[str]) -> None:
        everything = not asked or not any(r.handle for r in self.rt.machines.values())
        conn.reply(msg.StopReply(names, everything))
        if everything:
            self.loop.stopping = True

    def shutdown(self, conn: Conn, req: msg.Shutdown, fds: list[int]) -> None:
        for name in list(self.rt.machines):
            self.rt.kill(name, S.CRASHED)
        conn.reply(msg.Ok())
        self.loop.stopping = True

    # -- topology -------------------------------------------------------------------
    def vconfig(self, conn: Conn, req: msg.VConfig, fds: list[int]) -> None:
        machine = check_machine_name(req.machine)
        for num, domain in sorted(_interfaces(req.interfaces, unplug=True).items()):
            self.rt.vconfig(machine, num, domain)
        conn.reply(msg.Ok())

    def topology(self, conn: Conn, req: msg.GetTopology, fds: list[int]) -> None:
        from .topology import describe
        conn.reply(msg.TopologyReply(describe(self.rt)))


# Every operation, by request class: nothing is looked up by a name a client chose.
    # -- ports, shaping, capture ------------------------------------------------------
    def _ports(self) -> msg.PortsReply:
        return msg.PortsReply([msg.PortInfo(p.machine, str(p.spec))
                               for _, p in sorted(self.rt.uplinks.ports.items())])

    def port_add(self, conn: Conn, req: msg.PortAdd, fds: list[int]) -> None:
        rec = self.rt.running(check_machine_name(req.machine))
        spec = _port_spec(req.spec)
        self.rt.uplinks.publish(rec.machine.name, rec.handle.netns(), spec)
        conn.reply(self._ports())

    def port_rm(self, conn: Conn, req: msg.PortRemove, fds: list[int]) -> None:
        self.rt.uplinks.unpublish(_port_spec(req.spec))
        conn.reply(self._ports())

    def port_ls(self, conn: Conn, req: msg.PortList, fds: list[int]) -> None:
        conn.reply(self._ports())

    def shape(self, conn: Conn, req: msg.ShapeSet, fds: list[int]) -> None:
        from ..model.shaping import Shape, ShapeError
        from .shaping import ShapeError as KernelShapeError
        try:
            shape = Shape.parse(req.shape.split())
        except ShapeError as e:
            raise UserError(str(e)) from None
        targets: list[tuple[str, int]] = []
        if req.domain:
            targets = [(name, num) for name, rec in self.rt.machines.items() if rec.up
                       for num, iface in rec.machine.interfaces.items() if iface.link == req.domain]
            if not targets:
                raise UserError(f"no running machine is on collision domain {req.domain!r}")
        else:
            rec = self.rt.running(check_machine_name(req.machine))
            if req.interface is None or req.interface not in rec.machine.interfaces:
                have = ", ".join(f"eth{n}" for n in sorted(rec.machine.interfaces)) or "none"
                raise UserError(f"{req.machine} has no eth{req.interface} on a collision domain (it has: {have})")
            targets = [(req.machine, req.interface)]
        for name, num in targets:
            try:
                self.rt.shaper.set(self.rt.machines[name].index, num, shape)
            except KernelShapeError as e:
                raise UserError(f"{name} eth{num}: {e}") from None
            self.rt.machines[name].machine.options.shapes[num] = shape
        conn.reply(msg.ShapeReply([f"{n} eth{i}" for n, i in targets]))

    def capture(self, conn: Conn, req: msg.Capture, fds: list[int]) -> None:
        try:
            if len(fds) != 3:
                raise UserError("capture needs stdin, stdout and stderr descriptors")
            domain = check_domain_name(req.domain)
            if domain not in self.rt.hub.numbers:
                known = ", ".join(sorted(self.rt.hub.numbers)) or "none yet"
                raise UserError(f"no collision domain {req.domain!r} in this lab (domains: {known})")
            bridge = socket.if_indextoname(self.rt.hub.as_bridge(domain))  # (the hub's netns is this process's)
            tcpdump = spawn.which("tcpdump", HUB_ENV["PATH"])
            if not tcpdump:
                raise UserError("capturing needs tcpdump on this host: sudo apt install tcpdump")
            argv = [tcpdump, "-i", bridge, "-U", "--immediate-mode", "-w", "-", "-s", str(int(req.snaplen)),
                    "-Z", "root"] + (["-c", str(int(req.count))] if req.count else [])
            proc = spawn.spawn_here(tcpdump, argv, HUB_ENV, tuple(fds))  # writes pcap only: dissects nothing
        finally:
            for fd in fds:
                os.close(fd)
        conn.reply(msg.ExecStarted())
        self._follow(conn, proc, spawn.signal_started)


def _port_spec(text: str):
    from ..model.uplinks import PortSpec, SpecError
    try:
        return PortSpec.parse(text)
    except SpecError as e:
        raise UserError(str(e)) from None


OPS: dict[type, Callable] = {
    msg.Hello: Handlers.hello, msg.Info: Handlers.info, msg.Subscribe: Handlers.subscribe,
    msg.Start: Handlers.start, msg.VStart: Handlers.vstart, msg.Exec: Handlers.exec,
    msg.Halt: Handlers.halt, msg.Crash: Handlers.crash, msg.Shutdown: Handlers.shutdown,
    msg.VConfig: Handlers.vconfig, msg.GetTopology: Handlers.topology,
    msg.PortAdd: Handlers.port_add, msg.PortRemove: Handlers.port_rm, msg.PortList: Handlers.port_ls,
    msg.ShapeSet: Handlers.shape, msg.Capture: Handlers.capture,
}


def dispatch(h: Handlers, conn: Conn, frame: dict, fds: list[int]) -> None:
    """Decode a request frame (its op names its class) and run its operation."""
    op = frame.get("op")
    entry = msg.REQUESTS.get(op) if isinstance(op, str) else None
    try:
        if entry is None:
            raise UserError(f"unknown operation {op!r}; this supervisor (API {msg.API_VERSION}) knows: "
                            f"{', '.join(sorted(msg.REQUESTS))}")
        try:
            req = wire.decode(entry[0], {k: v for k, v in frame.items() if k != "op"}, f"request {op!r}")
        except wire.ProtocolError as e:
            raise UserError(f"{e} (this supervisor speaks API {msg.API_VERSION})") from None
    except NkError as e:
        for fd in fds:
            os.close(fd)
        conn.error(e)
        return
    OPS[entry[0]](h, conn, req, fds)


__all__ = ["Handlers", "Conn", "dispatch", "OPS"]
