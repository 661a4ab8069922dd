"""The lab's host-side helper: RootlessKit's parent half, for uplinks and published ports.

Forked by the supervisor right after its user namespace is mapped and before it leaves the
host's network namespace (engine/supervisor.py), so it is root of the lab's user namespace
*in the host's network namespace*: there it starts uplink drivers (drivers.py) into machine
netns and listens on published ports. It is outside the lab's pid namespace, dies with the
supervisor (PDEATHSIG), and its uplink processes end with it (their exit descriptor closes;
pasta is killed). It talks only to the supervisor, over one socket (messages.py).

A published port: the listening socket is made here, in the host's netns (so a port in use
or below ip_unprivileged_port_start is an error at once); its accept thread then enters the
machine's netns (setns is per thread), so every connection it accepts comes from the host and
every connection it dials goes to the machine's 127.0.0.1:GUEST. Bytes are moved with
splice(2) through a pipe, one thread per direction (RootlessKit's builtin driver does the same).
"""
from __future__ import annotations

import errno
import os
import select
import signal
import socket
import time

from typing import TYPE_CHECKING

from .. import wire
from ..linux import ns, spawn
from . import drivers, messages as m

if TYPE_CHECKING:
    import subprocess

READY_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
SPLICE = 1 << 20
MAX_CONNECTIONS = 64   # at once, per published port (two threads and six descriptors each)


class _Uplink:
    def __init__(self, driver: drivers.Driver, proc: subprocess.Popen, exit_w: int | None) -> None:
        self.driver, self.proc, self.exit_w = driver, proc, exit_w

    def stop(self) -> None:
        if self.exit_w is not None:
            os.close(self.exit_w)  # the driver exits when its exit descriptor closes
            self.exit_w = None
        spawn.stop(self.proc, grace=2)


def start_uplink(req: m.UplinkUp, netns: int) -> _Uplink:
    import subprocess  # (here, not at the top: most labs have no uplink, and a supervisor imports this)
    driver = drivers.choose(req.driver)
    exit_r, exit_w = os.pipe()
    ready_r, ready_w = os.pipe()
    argv = driver.argv(f"/proc/self/fd/{netns}", req.ifname, req.mtu, req.cidr, req.host_loopback, req.configure,
                       exit_r, ready_w)
    try:
        proc = subprocess.Popen(argv, pass_fds=(exit_r, ready_w, netns), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        for fd in (exit_r, exit_w, ready_r, ready_w):
            os.close(fd)
        raise drivers.UplinkError(f"cannot run {driver.name}: {e.strerror}") from None
    os.close(exit_r)
    os.close(ready_w)
    uplink = _Uplink(driver, proc, exit_w if driver.signals else None)
    if not driver.signals:
        os.close(exit_w)
    try:
        _await_ready(driver, proc, ready_r, req.ifname, netns)
    except BaseException:
        uplink.stop()
        raise
    finally:
        os.close(ready_r)
    proc.stderr.close()
    return uplink


def _await_ready(driver, proc: subprocess.Popen, ready_r: int, ifname: str, netns: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    if driver.signals:
        while time.monotonic() < deadline and proc.poll() is None:
            r, _, _ = select.select([ready_r, proc.stderr], [], [], 0.05)
            if ready_r in r and os.read(ready_r, 1):
                return
    elif _await_link(netns, ifname, proc, deadline):  # pasta -f has no ready descriptor: its tap appears
        return
    if proc.poll() is not None:
        said = proc.stderr.read().decode(errors="replace").strip().splitlines()
        raise drivers.UplinkError(f"{driver.name} exited: {said[-1] if said else proc.returncode}")
    raise drivers.UplinkError(f"{driver.name} did not come up within {READY_TIMEOUT:g} s")


def _await_link(netns: int, ifname: str, proc: subprocess.Popen, deadline: float) -> bool:
    """Wait in one thread (moved into netns once) until ifname exists there; False if proc
    exits or the deadline passes first."""
    import threading
    found = []

    def look() -> None:
        ns.setns(netns, ns.CLONE_NEWNET)
        while time.monotonic() < deadline and proc.poll() is None:
            if _if_exists(ifname):  # if_nametoindex asks a socket made now: in this thread's netns
                found.append(True)
                return
            time.sleep(0.005)
    t = threading.Thread(target=look)
    t.start()
    t.join()
    return bool(found)


def _if_exists(ifname: str) -> bool:
    try:
        socket.if_nametoindex(ifname)
        return True
    except OSError:
        return False


class _Port:
    def __init__(self, req: m.PortUp, netns: int) -> None:
        import threading
        self.req = req
        family = socket.AF_INET6 if ":" in req.host_ip else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.listener.bind((req.host_ip, req.host_port))
            self.listener.listen(128)
        except OSError as e:
            self.listener.close()
            raise port_error(req.host_ip, req.host_port, req.proto, e) from None
        self.netns = os.dup(netns)
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.closed = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            ns.setns(self.netns, ns.CLONE_NEWNET)  # this thread only: what it dials is in the machine
        except OSError:
            self.listener.close()
            return
        while True:
            self.slots.acquire()  # at most MAX_CONNECTIONS at once: the next waits in the backlog
            try:
                client, _ = self.listener.accept()
            except OSError as e:
                self.slots.release()
                if self.closed or e.errno in (errno.EBADF, errno.EINVAL):
                    return
                time.sleep(0.1)  # EMFILE, ENOBUFS ...: the port stays open and tries again
                continue
            try:
                target = socket.create_connection(("127.0.0.1", self.req.guest_port), timeout=CONNECT_TIMEOUT)
                target.setblocking(True)
            except OSError:
                client.close()
                self.slots.release()
                continue
            _relay(client, target, self.slots.release)

    def stop(self) -> None:
        self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread
        except OSError:
            pass
        self.listener.close()
        os.close(self.netns)


def port_error(ip: str, port: int, proto: str, e: OSError) -> drivers.UplinkError:
    where = f"port {ip}:{port}/{proto}"
    if e.errno == errno.EADDRINUSE:
        return drivers.UplinkError(f"{where} is already in use on this host: choose another host port")
    if e.errno == errno.EACCES:
        try:
            start = open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read().strip()
        except OSError:
            start = "1024"
        return drivers.UplinkError(f"{where}: ports below {start} need root here; choose a host port >= {start}")
    if e.errno == errno.EADDRNOTAVAIL:
        return drivers.UplinkError(f"{where}: {ip} is not an address of this host")
    return drivers.UplinkError(f"{where}: {e.strerror}")


def _relay(a: socket.socket, b: socket.socket, done) -> None:
    import threading
    left = [2]
    lock = threading.Lock()

    def pump(src: socket.socket, dst: socket.socket) -> None:
        r, w = os.pipe()
        try:
            while True:
                n = os.splice(src.fileno(), w, SPLICE)
                if n == 0:
                    break
                while n:
                    n -= os.splice(r, dst.fileno(), n)
        except OSError:
            pass
        finally:
            os.close(r)
            os.close(w)
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            with lock:
                left[0] -= 1
                if left[0] == 0:
                    a.close()
                    b.close()
                    done()
    threading.Thread(target=pump, args=(a, b), daemon=True).start()
    threading.Thread(target=pump, args=(b, a), daemon=True).start()


def serve(sock: socket.socket) -> None:
    uplinks: dict[str, list[_Uplink]] = {}
    ports: dict[tuple[str, int, str], tuple[str, _Port]] = {}
    while True:
        try:
            frame, fds = wire.recv(sock)
        except (EOFError, OSError, wire.ProtocolError):
            break
        try:
            cls = m.REQUESTS.get(frame.get("op", ""))
            if cls is None:
                raise drivers.UplinkError(f"unknown request {frame.get('op')!r}")
            req = wire.decode(cls, {k: v for k, v in frame.items() if k != "op"}, "helper request")
            if isinstance(req, m.UplinkUp):
                if len(fds) != 1:
                    raise drivers.UplinkError("an uplink needs the machine's netns")
                uplink = start_uplink(req, fds[0])
                uplinks.setdefault(req.machine, []).append(uplink)
                answer = m.UplinkStarted(uplink.driver.name, uplink.proc.pid)
            elif isinstance(req, m.PortUp):
                if len(fds) != 1:
                    raise drivers.UplinkError("a port needs the machine's netns")
                if req.proto != "tcp":
                    raise drivers.UplinkError(f"port {req.host_port}/{req.proto}: only tcp ports can be published")
                key = (req.host_ip, req.host_port, req.proto)
                if key in ports:
                    raise drivers.UplinkError(f"port {req.host_ip}:{req.host_port}/{req.proto} is already "
                                              f"published to {ports[key][0]}")
                ports[key] = (req.machine, _Port(req, fds[0]))
                answer = m.Done()
            elif isinstance(req, m.PortDown):
                found = ports.pop((req.host_ip, req.host_port, req.proto), None)
                if found:
                    found[1].stop()
                answer = m.Done()
            else:
                for uplink in uplinks.pop(req.machine, []):
                    uplink.stop()
                for key in [k for k, (owner, _) in ports.items() if owner == req.machine]:
                    ports.pop(key)[1].stop()
                answer = m.Done()
            wire.send(sock, {"ok": True, **wire.encode(answer)})
        except (drivers.UplinkError, wire.ProtocolError, OSError) as e:
            wire.send(sock, {"error": str(e)})
        finally:
            for fd in fds:
                os.close(fd)
    for group in uplinks.values():
        for uplink in group:
            uplink.stop()


def fork_helper() -> tuple[int, socket.socket]:
    """Fork the helper (in the supervisor, before it leaves the host's netns); returns its pid
    and the supervisor's end of its socket."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() == 1:
                os._exit(0)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)  # the supervisor decides; it dies -> PDEATHSIG
            ns.close_all_but({0, 1, 2, theirs.fileno()})
            serve(theirs)
        finally:
            os._exit(0)
    theirs.close()
    return pid, ours
