"""The supervisor's API operations (one method per op of engine/protocol.py; booting is boot.py).

Long operations (start, halt, exec) answer later, from loop callbacks; meanwhile they
stream {"event": ...} frames to the client that asked.
"""
from __future__ import annotations

import os
import signal
import socket

from ..backends.namespaces import hub_exec, signal_command
from ..errors import UserError
from ..model import Interface, Machine, MachineOptions
from ..model.names import check_domain_name, check_machine_name
from . import bootscript, protocol
from .boot import Boot
from .logs import LogRelay
from .loop import Loop
from .runtime import LabRuntime

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP, "KILL": signal.SIGKILL}
HALT_TIMEOUT = 30.0


class Conn:
    """One client connection (its socket leaves the loop when it closes, whoever closes it)."""

    def __init__(self, sock: socket.socket, loop: Loop) -> None:
        self.sock, self.loop = sock, loop
        self.closed = False
        self.on_close: list = []
        self.on_message = None

    def send(self, msg: dict, fds: list[int] | None = None) -> None:
        if self.closed:
            return
        try:
            protocol.send(self.sock, msg, fds or ())
        except OSError:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock)
            for fn in self.on_close:
                fn()
            self.sock.close()


class Handlers:
    def __init__(self, rt: LabRuntime, loop: Loop, host_pid: int) -> None:
        self.rt, self.loop, self.host_pid = rt, loop, host_pid
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.logs = LogRelay(loop)

    # -- info ---------------------------------------------------------------------
    def op_hello(self, conn: Conn, req: dict, fds: list[int]) -> None:
        conn.send({"ok": True, "api": protocol.API_VERSION, "lab": self.rt.lab.name,
                   "directory": str(self.rt.lab.directory), "supervisor_pid": self.host_pid})

    def op_info(self, conn: Conn, req: dict, fds: list[int]) -> None:
        out = []
        for name, ms in self.rt.machines.items():
            alive = bool(ms.node and ms.node.alive())
            out.append({"name": name, "state": ms.state, "detail": ms.detail, "pid": ms.node.pid if alive else None,
                        "memory_kib": ms.node.memory_kib() if alive and req.get("memory") else None,
                        "startup_status": ms.startup_status,
                        "interfaces": {f"eth{n}": i.link for n, i in sorted(ms.machine.interfaces.items())}})
        conn.send({"ok": True, "machines": out})

    def op_subscribe(self, conn: Conn, req: dict, fds: list[int]) -> None:
        listener = conn.send
        self.rt.listeners.append(listener)
        self.rt.monitors.subscribe()

        def leave() -> None:
            self.rt.listeners.remove(listener)
            self.rt.monitors.unsubscribe()
        conn.on_close.append(leave)
        conn.send({"ok": True, "subscribed": True})

    # -- boot -----------------------------------------------------------------------
    def op_start(self, conn: Conn, req: dict, fds: list[int]) -> None:
        selected = req.get("machines") or None
        for name in selected or []:
            self.rt.lab.machine(check_machine_name(name))
        names = [n for level in self.rt.lab.boot_levels(selected) for n in level]
        Boot(self.rt, self.loop, conn.send, self.logs, names, bool(req.get("fast")),
             float(req.get("timeout") or 300), int(req.get("parallel") or 0)).run()

    def op_vstart(self, conn: Conn, req: dict, fds: list[int]) -> None:
        name = check_machine_name(req.get("name"))
        ifaces = {}
        for k, v in (req.get("interfaces") or {}).items():
            if not str(k).isdigit() or int(k) > 1023:
                raise UserError(f"interface number {k!r}: use 0 to 1023")
            ifaces[int(k)] = Interface(int(k), check_domain_name(v))
        m = Machine(name, ifaces, MachineOptions(exec_commands=[str(c) for c in req.get("exec") or []]))
        self.rt.add_machine(m)
        Boot(self.rt, self.loop, conn.send, self.logs, [name], bool(req.get("fast")),
             float(req.get("timeout") or 300), 0).run()

    # -- exec -----------------------------------------------------------------------
    def op_exec(self, conn: Conn, req: dict, fds: list[int]) -> None:
        pty = tuple(req["pty"]) if req.get("pty") else None
        master = None
        try:
            if not pty and len(fds) != 3:
                raise UserError("exec needs stdin, stdout and stderr descriptors, or a pty")
            std = tuple(fds) if not pty else None
            if req.get("hub"):
                env = {"PATH": bootscript.ENV_PATH, "HOME": "/root", "TERM": "xterm", "PS1": "nk-hub# ",
                       **(req.get("env") or {})}
                proc, master = hub_exec(req.get("argv") or ["/bin/bash", "-c", req["command"]], env, std, pty)
            else:
                ms = self.rt.running(check_machine_name(req.get("machine")))
                m = ms.machine
                argv = req.get("argv") or bootscript.command_argv(m, req["command"])
                env = bootscript.environment(m, req.get("env"))
                proc, master = ms.node.spawn(argv, env, std, req.get("cwd"), pty)
        finally:
            for fd in fds:
                os.close(fd)
        if master is not None:
            conn.send({"event": "started"}, fds=[master])
            os.close(master)
        else:
            conn.send({"event": "started"})
        state = {"done": False}

        def on_message(msg: dict, extra: list[int]) -> None:
            for fd in extra:
                os.close(fd)
            if msg.get("op") == "signal" and not state["done"]:
                signal_command(proc, SIGNALS.get(str(msg.get("signal")), signal.SIGTERM))

        def hangup() -> None:
            if not state["done"]:
                signal_command(proc, signal.SIGHUP)

        def exited(code: int) -> None:
            state["done"] = True
            conn.send({"ok": True, "status": code})
        conn.on_message = on_message
        conn.on_close.append(hangup)
        self.loop.watch_child(proc, exited)

    # -- stop -----------------------------------------------------------------------
    def op_halt(self, conn: Conn, req: dict, fds: list[int]) -> None:
        names = self._targets(req)
        left = set(names)
        if not left:
            return self._after_stop(conn, req, names)
        for name in names:
            ms = self.rt.machines[name]
            if not (ms.node and ms.node.alive()):
                left.discard(name)
                continue
            log = self.logs.pipe(self.rt.state.startup_log(name))
            try:
                proc, _ = ms.node.spawn(["/bin/sh", "-c", bootscript.halt(ms.machine)],
                                         bootscript.environment(ms.machine), (self.devnull, log.fd, log.fd))
            except OSError:
                log.close_writer()
                self.rt.kill(name, "halted")
                left.discard(name)
                continue
            log.close_writer()
            self.rt.set_state(ms, "halting")
            timer = self.loop.call_later(HALT_TIMEOUT, lambda r=proc: signal_command(r, signal.SIGKILL))

            def exited(code: int, name=name, timer=timer) -> None:
                self.loop.cancel(timer)
                self.rt.kill(name, "halted")
                self.rt.keep_disk(name)
                left.discard(name)
                if not left:
                    self._after_stop(conn, req, names)
            self.loop.watch_child(proc, exited)
        if not left:
            self._after_stop(conn, req, names)

    def op_crash(self, conn: Conn, req: dict, fds: list[int]) -> None:
        names = self._targets(req)
        # when the whole lab stops, its scratch space goes with it and the client removes the
        # state dir (Lab.crash): no per-machine clean-up
        whole = not req.get("machines") or set(names) >= {n for n, ms in self.rt.machines.items() if ms.node}
        for name in names:
            self.rt.kill(name, "crashed")
            if req.get("keep_disk"):
                self.rt.keep_disk(name)
            elif not whole:
                self.rt.discard_disk(name)
        self._after_stop(conn, req, names)

    def _targets(self, req: dict) -> list[str]:
        names = req.get("machines") or [n for n, ms in self.rt.machines.items() if ms.node]
        for n in names:
            self.rt.get(check_machine_name(n))
        return list(reversed(names))

    def _after_stop(self, conn: Conn, req: dict, names: list[str]) -> None:
        everything = not req.get("machines") or not any(ms.node for ms in self.rt.machines.values())
        conn.send({"ok": True, "machines": names, "supervisor_exits": everything})
        if everything:
            self.loop.stopping = True

    def op_shutdown(self, conn: Conn, req: dict, fds: list[int]) -> None:
        for name in list(self.rt.machines):
            self.rt.kill(name, "crashed")
        conn.send({"ok": True})
        self.loop.stopping = True

    # -- topology -------------------------------------------------------------------
    def op_vconfig(self, conn: Conn, req: dict, fds: list[int]) -> None:
        machine = check_machine_name(req.get("machine"))
        for num, domain in sorted((req.get("interfaces") or {}).items()):
            if not str(num).isdigit() or int(num) > 1023:
                raise UserError(f"interface number {num!r}: use 0 to 1023")
            self.rt.vconfig(machine, int(num), check_domain_name(domain) if domain else None)
        conn.send({"ok": True})

    def op_topology(self, conn: Conn, req: dict, fds: list[int]) -> None:
        from .topology import describe
        conn.send({"ok": True, **describe(self.rt)})


def dispatch(h: Handlers, conn: Conn, req: dict, fds: list[int]) -> None:
    fn = getattr(h, "op_" + str(req.get("op")), None)
    if fn is None:
        for fd in fds:
            os.close(fd)
        conn.send({"ok": False, "kind": "UserError", "message": f"unknown operation {req.get('op')!r}"})
        return
    fn(conn, req, fds)


__all__ = ["Handlers", "Conn", "dispatch"]
