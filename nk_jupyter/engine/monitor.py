"""Address, route and link changes inside machines, as events for subscribers.

While at least one client subscribes (a live topology view), the supervisor keeps one
netlink socket per running machine, joined to its rtnetlink multicast groups. It does not
parse what arrives (clients then ask for the topology, which the supervisor reads through
Hub.snapshot): it only turns "something changed in pc1" into a LinksEvent("pc1"), at most
every DEBOUNCE seconds per machine. The sockets are closed when the last subscriber
leaves or the machine stops, so they never keep a machine's netns alive.
"""
from __future__ import annotations

import socket

from ..linux import ns
from ..model.events import LinksEvent

NETLINK_ROUTE = 0
GROUPS = 0x1 | 0x10 | 0x40 | 0x100 | 0x400  # LINK, IPV4_IFADDR, IPV4_ROUTE, IPV6_IFADDR, IPV6_ROUTE
DEBOUNCE = 0.1


class Monitors:
    def __init__(self, rt, loop) -> None:
        self.rt, self.loop = rt, loop
        self.subscribers = 0
        self.socks: dict[str, socket.socket] = {}
        self.pending: set[str] = set()
        self.timer: int | None = None

    def subscribe(self) -> None:
        self.subscribers += 1
        for name, rec in self.rt.machines.items():
            if rec.handle:
                self.watch(name, rec.handle)

    def unsubscribe(self) -> None:
        self.subscribers -= 1
        if self.subscribers <= 0:
            self.subscribers = 0
            for name in list(self.socks):
                self.forget(name)

    def watch(self, name: str, handle) -> None:
        if not self.subscribers or name in self.socks:
            return
        try:
            ns.setns(handle.netns(), ns.CLONE_NEWNET)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK, NETLINK_ROUTE)
                sock.bind((0, GROUPS))
            finally:
                ns.setns(self.rt.hub.hub_fd, ns.CLONE_NEWNET)
        except OSError:
            return
        self.socks[name] = sock
        self.loop.add_reader(sock, lambda: self._readable(name, sock))

    def forget(self, name: str) -> None:
        sock = self.socks.pop(name, None)
        if sock:
            self.loop.remove_reader(sock)
            sock.close()

    def _readable(self, name: str, sock: socket.socket) -> None:
        try:
            while sock.recv(65536):
                pass
        except (BlockingIOError, OSError):
            pass
        self.pending.add(name)
        if self.timer is None:
            self.timer = self.loop.call_later(DEBOUNCE, self._flush)

    def _flush(self) -> None:
        self.timer = None
        names, self.pending = sorted(self.pending), set()
        for name in names:
            self.rt.emit(LinksEvent(name, "addresses"))
