"""Bridges and veths for a lab, over pyroute2 (imported only here, in the supervisor).

Names in the hub namespace (the supervisor's own netns, private to the lab):
    nkd<N>       the bridge of collision domain number N (ifalias = the domain's name)
    nkv<I>.<K>   the hub end of node number I's interface ethK
Inside a node the interface is ethK, with its lab.conf MAC or Netkit's SHA-1 MAC.
Bridges are hubs: STP off, no ageing (flood everything), group_fwd_mask 0xfff8,
no multicast snooping.
"""
from __future__ import annotations

import errno
import os

from . import ns

MAX_PORTS = 1024  # BR_MAX_PORTS: more gives EXFULL


class NetlinkError(Exception):
    """Stands for pyroute2's NetlinkError until pyroute2 is imported (by Hub)."""


def bridge_name(index: int) -> str:
    return f"nkd{index}"


def veth_name(node_index: int, ifnum: int) -> str:
    return f"nkv{node_index}.{ifnum}"


class Hub:
    """The lab's hub netns, as seen from the supervisor (which lives in it)."""

    def __init__(self) -> None:
        global NetlinkError
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError
        self._IPRoute = IPRoute
        self.ipr = IPRoute()
        self.hub_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.bridges: dict[str, int] = {}  # domain -> ifindex
        self.ports: dict[str, int] = {}  # domain -> ports on its bridge
        self.port_domain: dict[tuple[int, int], str] = {}
        self.ipr.link("set", index=self.ipr.link_lookup(ifname="lo")[0], state="up")
        for key in ("all", "default"):  # the hub only switches frames: no IPv6 on its ports
            try:
                with open(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6", "w") as f:
                    f.write("1")
            except OSError:
                pass

    def bridge(self, domain: str) -> int:
        """The bridge of a collision domain, created on first use."""
        if domain not in self.bridges:
            name = bridge_name(len(self.bridges))
            self.ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_ageing_time=0,
                          br_group_fwd_mask=0xFFF8, br_mcast_snooping=0, ifalias=domain[:255], state="up")
            idx = self.ipr.link_lookup(ifname=name)[0]
            self.bridges[domain] = idx
        return self.bridges[domain]

    def plug(self, netns: int, node_index: int, ifnum: int, domain: str, mac: str, mtu: int | None = None) -> None:
        """Create a machine's ethN in netns (a descriptor), its hub end enslaved to the domain's bridge, both up."""
        br = self.bridge(domain)
        if self.ports.get(domain, 0) >= MAX_PORTS:
            raise OSError(errno.EXFULL, f"collision domain {domain!r} already has {MAX_PORTS} interfaces "
                                        "(the limit of a Linux bridge)")
        extra = {"mtu": mtu} if mtu else {}
        self.ipr.link("add", ifname=veth_name(node_index, ifnum), kind="veth", master=br, state="up",
                      peer={"ifname": f"eth{ifnum}", "address": mac, "net_ns_fd": netns, **extra})
        self.ports[domain] = self.ports.get(domain, 0) + 1
        self.port_domain[(node_index, ifnum)] = domain

    def unplug(self, node_index: int, ifnum: int) -> None:
        idx = self.ipr.link_lookup(ifname=veth_name(node_index, ifnum))
        if idx:
            self.ipr.link("del", index=idx[0])
        self.forget(node_index, ifnum)

    def forget(self, node_index: int, ifnum: int) -> None:
        """A port is gone (unplugged, or its machine died and took the veth with it)."""
        domain = self.port_domain.pop((node_index, ifnum), None)
        if domain:
            self.ports[domain] -= 1

    def in_node(self, netns: int):
        """Context manager: an IPRoute bound to a machine's netns (a descriptor; setns there and back)."""
        return _InNode(self, netns)

    def links_up(self, netns: int, ifnames: list[str]) -> None:
        with self.in_node(netns) as ipr:
            for name in ["lo", *ifnames]:
                found = ipr.link_lookup(ifname=name)
                if found:
                    ipr.link("set", index=found[0], state="up")

    def address(self, netns: int, ifname: str, cidr: str, gateway: str | None, on_link: str | None = None) -> None:
        """In a machine's netns: cidr on ifname, up, a route to the network on_link through it
        (if given) and a default route via gateway (if given)."""
        address, prefix = cidr.split("/")
        with self.in_node(netns) as ipr:
            idx = ipr.link_lookup(ifname=ifname)
            if not idx:
                raise OSError(errno.ENODEV, f"{ifname} does not exist")
            ipr.addr("add", index=idx[0], address=address, prefixlen=int(prefix))
            ipr.link("set", index=idx[0], state="up")
            if on_link:
                ipr.route("replace", dst=on_link, oif=idx[0], scope=253)  # link scope
            if gateway:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=idx[0])

    @staticmethod
    def nft(rules: str, netns: int | None = None) -> None:
        """Load nftables rules (nft -f -) in the hub, or in a machine's netns (a descriptor)."""
        import subprocess
        argv = ["nft", "-f", "-"]
        if netns is not None:
            argv = ["nsenter", f"--net=/proc/self/fd/{netns}", *argv]
        done = subprocess.run(argv, input=rules.encode(), capture_output=True, pass_fds=(netns,) if netns else (),
                              timeout=10)
        if done.returncode != 0:
            raise OSError(errno.EINVAL, f"nft: {done.stderr.decode(errors='replace').strip()[:300]}")

    def close(self) -> None:
        self.ipr.close()


class _InNode:
    def __init__(self, hub: Hub, netns: int) -> None:
        self.hub, self.netns = hub, netns

    def __enter__(self):
        ns.setns(self.netns, ns.CLONE_NEWNET)
        try:
            self.ipr = self.hub._IPRoute()
        except BaseException:
            ns.setns(self.hub.hub_fd, ns.CLONE_NEWNET)
            raise
        return self.ipr

    def __exit__(self, *exc) -> None:
        try:
            self.ipr.close()
        finally:
            ns.setns(self.hub.hub_fd, ns.CLONE_NEWNET)
