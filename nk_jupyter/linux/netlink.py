"""A lab's collision domains (hubs) and veths, and what a machine's kernel says of its network:
a boot's requests and a topology's dumps encoded here, the rest over pyroute2 (imported only
here, in the supervisor, on first use).

Names in the hub namespace (the supervisor's own netns, private to the lab):
    nkv<I>.<K>   the hub end of node number I's interface ethK
    nkd<N>       the bridge of collision domain number N (ifalias = the domain's name), where
                 the domain is a bridge
Inside a node the interface is ethK, with its lab.conf MAC or Netkit's SHA-1 MAC.

A collision domain is a hub, one of two kinds:
  - tc (the default where the kernel has it, Linux 6.9+): each hub end's ingress qdisc shares
    the domain's tc block (number N + 1), and on the block one u32 match-all filter redirects
    every frame to the block (mirred, TCA_MIRRED_BLOCKID): to every other port of the domain,
    never back to its sender. No bridge: a bridge's teardown ends in an rcu_barrier() under
    RTNL (~16 ms each here), which held every new netns and veth of the host for ~1.6 s after
    a 100-domain lab's lcrash (bench/README.md, ninth pass).
  - bridge: STP off, no ageing (flood everything), group_fwd_mask 0xfff8, no multicast
    snooping. Where the kernel refuses the tc hub, with NK_DOMAIN_HUB=bridge, and for a domain that is
    shaped or captured (shaping redirects a hub end's ingress to an ifb, and captures and loss
    rules are on the bridge): such a domain becomes a bridge, its ports moved, for good.
"""
from __future__ import annotations

import errno
import os
import socket
import struct

from ..records import dataclass
from . import ns

MAX_PORTS = 1023  # BR_MAX_PORTS (1024) less port number 0: the 1024th gives EXFULL


class NetlinkError(Exception):
    """Stands for pyroute2's NetlinkError until pyroute2 is imported (Hub.ipr); what _Requests raises."""

    def __init__(self, code: int, msg: str | None = None) -> None:
        super().__init__(code, msg or os.strerror(code))
        self.code = code


def bridge_name(index: int) -> str:
    return f"nkd{index}"


def veth_name(node_index: int, ifnum: int) -> str:
    return f"nkv{node_index}.{ifnum}"


class Hub:
    """The lab's hub netns, as seen from the supervisor (which lives in it)."""

    def __init__(self, kind: str | None = None) -> None:
        self._ipr = None
        self._rtnl = _Requests()
        self.hub_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        # "auto": tc hubs, bridges from the first refusal on; "bridge": bridges only
        self.kind = kind or ("bridge" if os.environ.get("NK_DOMAIN_HUB") == "bridge" else "auto")
        self.numbers: dict[str, int] = {}  # domain -> its number N, in order of first use
        self.blocks: set[str] = set()  # the tc-hub domains (those not yet bridges)
        self.bridges: dict[str, int] = {}  # bridge domain -> the bridge's ifindex
        self.ports: dict[str, int] = {}  # domain -> its ports
        self.port_domain: dict[tuple[int, int], str] = {}
        self.last_port: dict[str, tuple[int, int]] = {}  # domain -> the port plugged last
        set_up("lo")
        for key in ("all", "default"):  # the hub only switches frames: no IPv6 on its ports
            try:
                with open(f"/proc/sys/net/ipv6/conf/{key}/disable_ipv6", "w") as f:
                    f.write("1")
            except OSError:
                pass

    @property
    def ipr(self):
        """pyroute2's IPRoute in the hub, made on first use: importing pyroute2 takes ~0.1 s, which a
        starting lab spends while the first machines' inits build their roots on the other core."""
        if self._ipr is None:
            global NetlinkError
            from pyroute2 import IPRoute
            from pyroute2.netlink.exceptions import NetlinkError
            self._IPRoute = IPRoute
            self._ipr = IPRoute()
        return self._ipr

    def number(self, domain: str) -> int:
        return self.numbers.setdefault(domain, len(self.numbers))

    def bridge(self, domain: str) -> int:
        """The bridge of a collision domain, created on first use (a tc-hub domain: as_bridge)."""
        if domain not in self.bridges:
            name = bridge_name(self.number(domain))
            self._rtnl.new_link(_bridge_request(name, domain))
            self.bridges[domain] = socket.if_nametoindex(name)
        return self.bridges[domain]

    def plug(self, netns: int, node_index: int, ifnum: int, domain: str, mac: str, mtu: int | None = None) -> None:
        """Create a machine's ethN in netns (a descriptor), its hub end a port of the domain's hub, both up."""
        if self.ports.get(domain, 0) >= MAX_PORTS:
            raise OSError(errno.EXFULL, f"collision domain {domain!r} already has {MAX_PORTS} interfaces "
                                        "(the limit of a Linux bridge)")
        if (node_index, ifnum) in self.port_domain:
            raise OSError(errno.EEXIST, f"eth{ifnum} of this machine is plugged already")
        name = veth_name(node_index, ifnum)
        if self.kind == "bridge" or domain in self.bridges:
            self._new_veth(_veth_request(name, self.bridge(domain), f"eth{ifnum}", mac, netns, mtu), name)
        else:
            self._new_veth(_veth_request(name, None, f"eth{ifnum}", mac, netns, mtu, up=False), name)
            try:
                self._tc_port(name, domain)
            except BaseException:
                self._del_link(_index(name))
                raise
        self.ports[domain] = self.ports.get(domain, 0) + 1
        self.port_domain[(node_index, ifnum)] = domain
        self.last_port[domain] = (node_index, ifnum)
        if self.kind == "bridge" and domain in self.blocks:  # (the kernel refused the tc hub just now)
            self.as_bridge(domain)

    def _new_veth(self, request: bytes, name: str) -> None:
        """Create a port's veth. A hub end of that name left by the port's machine, which died
        and whose netns the kernel has not torn down yet (vcrash then vstart at once), is
        deleted first (the caller's port was forgotten: it is no one else's)."""
        try:
            self._rtnl.new_link(request)
        except NetlinkError as e:
            stale = _index(name) if e.code == errno.EEXIST else 0
            if not stale:
                raise
            self._del_link(stale)
            self._rtnl.new_link(request)

    def _del_link(self, index: int) -> None:
        if index:
            self._rtnl.request(RTM_DELLINK, _ifinfo(0, index), 0)

    def _tc_port(self, name: str, domain: str) -> None:
        """The hub end `name` joins the domain's block, and the block has its filter.

        Every block nk makes gets its filter at once, so a port that joins a live block needs
        none. A block goes with its last port, and machine root can take a port away itself
        (`ip link del eth0` deletes both ends): whether the block lived is asked of the kernel
        after the join, through another port of the domain (one that still exists was there
        before the join, so the join was to its block)."""
        block = self.number(domain) + 1
        index = socket.if_nametoindex(name)
        try:
            # (on a hub end still down: grafting an ingress qdisc onto an up device deactivates
            # it first, which waits for an RCU grace period under RTNL, 0.1-0.6 ms a port here)
            self._rtnl.request(RTM_NEWQDISC, _ingress_request(index, block))
            if not self._another_port(domain):
                try:  # (its one handle: EEXIST if the block had it after all)
                    self._rtnl.request(RTM_NEWTFILTER, _hub_filter_request(block))
                except NetlinkError as e:
                    if e.code != errno.EEXIST:
                        raise
        except NetlinkError as e:
            # a kernel before 6.9 (no mirred to a block: EINVAL), or without sch_ingress, u32 or
            # act_mirred (ENOENT): bridges from now on (plug converts this domain)
            if self.kind != "auto" or e.code not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOENT, errno.ENODEV):
                raise
            self.kind = "bridge"
        self.blocks.add(domain)
        self._rtnl.request(RTM_NEWLINK, _ifinfo(IFF_UP, index), 0)

    def _another_port(self, domain: str) -> bool:
        """Does a hub end of another port of the domain exist (an ioctl, no RTNL)? The last
        one plugged is asked first."""
        last = self.last_port.get(domain)
        if last and last in self.port_domain and _index(veth_name(*last)):
            return True
        for port, d in self.port_domain.items():
            if d == domain and _index(veth_name(*port)):
                self.last_port[domain] = port
                return True
        return False

    def as_bridge(self, domain: str) -> int:
        """The domain's bridge; a tc-hub domain becomes one first (its ports are moved onto it,
        then leave the block), for good. Shaping and capture work on bridges."""
        if domain in self.blocks:
            br = self.bridge(domain)
            names = [veth_name(i, k) for (i, k), d in self.port_domain.items() if d == domain]
            found = [index for index in (_index(name) for name in names) if index]
            for index in found:
                self.ipr.link("set", index=index, master=br)
            for index in found:
                try:
                    self._rtnl.request(RTM_DELQDISC, _TCMSG.pack(0, index, TC_H_INGRESS_HANDLE, TC_H_INGRESS, 0), 0)
                except NetlinkError:
                    pass
            self.blocks.discard(domain)
        return self.bridge(domain)

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

    def snapshot(self, netns: int) -> Snapshot:
        """What a machine's kernel says of its links, addresses and main-table routes (netns: a
        descriptor). Read with three dumps on a socket of our own, not pyroute2: a live
        topology view asks this of every machine after each change, and pyroute2 spends ~3 ms
        of Python per machine on it (and ~0.15 s on its import, the first time)."""
        ns.setns(netns, ns.CLONE_NEWNET)
        try:
            sock = _Requests()
        finally:
            ns.setns(self.hub_fd, ns.CLONE_NEWNET)
        try:
            return _snapshot(sock)
        finally:
            sock.close()

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
        if self._ipr is not None:
            self._ipr.close()
        self._rtnl.close()


class _InNode:
    def __init__(self, hub: Hub, netns: int) -> None:
        self.hub, self.netns = hub, netns

    def __enter__(self):
        self.hub.ipr  # (pyroute2 is imported in the hub's netns)
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


def set_up(ifname: str) -> None:
    """Bring an interface of this netns up (SIOCGIFFLAGS/SIOCSIFFLAGS, as ifconfig does)."""
    import fcntl
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", ifname.encode(), 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, req)[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", ifname.encode(), flags | 1))


# -- the two requests a lab's boot makes, encoded here --------------------------------------
# Any import from pyroute2 runs its package's __init__, which loads all of pyroute2 (~0.1 s, a
# third of a 10-machine lab's start), and its IPRoute spends ~0.3 ms of Python per request.
# Booting needs only these two RTM_NEWLINK requests (tests/unit/test_netlink.py checks them
# against pyroute2's own encoding, byte for byte), and a topology three dumps (Hub.snapshot,
# below); everything else goes through pyroute2.
RTM_NEWLINK, RTM_DELLINK, NLMSG_ERROR = 16, 17, 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 20, 28
IFLA_NUM_TX_QUEUES, IFLA_NUM_RX_QUEUES = 31, 32
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFLA_BR_AGEING_TIME, IFLA_BR_STP_STATE, IFLA_BR_GROUP_FWD_MASK, IFLA_BR_MCAST_SNOOPING = 4, 5, 9, 23
_IFINFO = struct.Struct("=BxHiII")  # struct ifinfomsg: family, type, index, flags, change


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def _ifinfo(flags: int = 0, index: int = 0) -> bytes:
    """struct ifinfomsg: the link `index` (0: a new one), these flags set (and changed)."""
    return _IFINFO.pack(0, 0, index, flags, flags)


def _linkinfo(kind: str, data: bytes) -> bytes:
    return _attr(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, kind.encode() + b"\0") + _attr(IFLA_INFO_DATA, data))


def _bridge_request(name: str, domain: str) -> bytes:
    """ipr.link("add", ifname=name, kind="bridge", br_stp_state=0, br_ageing_time=0,
    br_group_fwd_mask=0xFFF8, br_mcast_snooping=0, ifalias=domain, state="up"), as bytes
    (less its netlink header): a hub that floods every frame and forwards link-local ones."""
    data = (_attr(IFLA_BR_STP_STATE, struct.pack("=I", 0)) + _attr(IFLA_BR_AGEING_TIME, struct.pack("=I", 0))
            + _attr(IFLA_BR_GROUP_FWD_MASK, struct.pack("=H", 0xFFF8)) + _attr(IFLA_BR_MCAST_SNOOPING, b"\0"))
    return (_ifinfo(IFF_UP) + _attr(IFLA_IFNAME, name.encode() + b"\0")
            + _attr(IFLA_IFALIAS, domain.encode()[:255] + b"\0") + _linkinfo("bridge", data))


def _veth_request(name: str, master: int | None, peer: str, mac: str, netns: int, mtu: int | None = None,
                  up: bool = True) -> bytes:
    """ipr.link("add", ifname=name, kind="veth", master=master, state="up", num_tx_queues=1,
    num_rx_queues=1, peer={"ifname": peer, "address": mac, "net_ns_fd": netns, "mtu": mtu,
    "num_tx_queues": 1, "num_rx_queues": 1}), as bytes (less its netlink header).

    One queue each way, as the kernel would set it anyway: said at creation, the kernel need not
    change the number afterwards, which waits for an RCU grace period (synchronize_net) per end
    while holding RTNL; slow whenever others wait for grace periods too (an ended lab's teardown)."""
    one = _attr(IFLA_NUM_TX_QUEUES, struct.pack("=I", 1)) + _attr(IFLA_NUM_RX_QUEUES, struct.pack("=I", 1))
    far = (_attr(IFLA_IFNAME, peer.encode() + b"\0") + _attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
           + _attr(IFLA_NET_NS_FD, struct.pack("=I", netns)) + (_attr(IFLA_MTU, struct.pack("=I", mtu)) if mtu else b"")
           + one)
    return (_ifinfo(IFF_UP if up else 0) + _attr(IFLA_IFNAME, name.encode() + b"\0")
            + (_attr(IFLA_MASTER, struct.pack("=I", master)) if master is not None else b"")
            + one + _linkinfo("veth", _attr(VETH_INFO_PEER, _ifinfo() + far)))


def _index(name: str) -> int:
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return 0


# A tc hub (see the module's docstring): a hub end's ingress qdisc on the domain's block (not a
# clsact, which makes a second block for egress: twice the work per port), and the
# block's one filter. iproute2 6.1 and pyroute2 0.9 cannot say "mirred to a block".
RTM_NEWQDISC, RTM_DELQDISC, RTM_NEWTFILTER = 36, 37, 44
TCA_KIND, TCA_OPTIONS, TCA_INGRESS_BLOCK = 1, 2, 13
TC_H_INGRESS, TC_H_INGRESS_HANDLE = 0xFFFFFFF1, 0xFFFF0000
TCM_IFINDEX_MAGIC_BLOCK = 0xFFFFFFFF  # a filter of a block (tcm_parent is then the block's number)
TCA_U32_SEL, TCA_U32_ACT = 5, 7
TCA_ACT_KIND, TCA_ACT_OPTIONS = 1, 2
TCA_MIRRED_PARMS, TCA_MIRRED_BLOCKID = 2, 4
TC_ACT_STOLEN, TCA_EGRESS_REDIR = 4, 1
ETH_P_ALL, NLA_F_NESTED = 0x0003, 0x8000
HUB_FILTER = 0x80000001  # u32 handle 800::1: the block's first u32 table, its first node
_TCMSG = struct.Struct("=BxxxIIII")  # struct tcmsg: family, ifindex, handle, parent, info


def _ingress_request(ifindex: int, block: int) -> bytes:
    """tc qdisc add dev IFINDEX ingress_block BLOCK ingress, as bytes (less the netlink header)."""
    return (_TCMSG.pack(0, ifindex, TC_H_INGRESS_HANDLE, TC_H_INGRESS, 0) + _attr(TCA_KIND, b"ingress\0")
            + _attr(TCA_INGRESS_BLOCK, struct.pack("=I", block)))


def _hub_filter_request(block: int) -> bytes:
    """tc filter add block BLOCK protocol all prio 1 handle 800::1 u32 (no key) action mirred
    egress redirect blockid BLOCK: every frame to every other port of the block."""
    # terminal, no key: every frame, however short (a key reads 4 bytes past the link header,
    # and a frame without them would fall through to the hub's own stack)
    selector = struct.pack("=BBBxHHhhI", 1, 0, 0, 0, 0, 0, 0, 0)
    parms = struct.pack("=IIiiiiI", 0, 0, TC_ACT_STOLEN, 0, 0, TCA_EGRESS_REDIR, 0)  # struct tc_mirred, no device
    action = _attr(TCA_ACT_KIND, b"mirred\0") + _attr(TCA_ACT_OPTIONS | NLA_F_NESTED, _attr(TCA_MIRRED_PARMS, parms)
                                                       + _attr(TCA_MIRRED_BLOCKID, struct.pack("=I", block)))
    options = _attr(TCA_U32_SEL, selector) + _attr(TCA_U32_ACT | NLA_F_NESTED, _attr(1 | NLA_F_NESTED, action))
    return (_TCMSG.pack(0, TCM_IFINDEX_MAGIC_BLOCK, HUB_FILTER, block, (1 << 16) | socket.htons(ETH_P_ALL))
            + _attr(TCA_KIND, b"u32\0") + _attr(TCA_OPTIONS | NLA_F_NESTED, options))


class _Requests:
    """RTM_NEWLINK requests, acknowledged one by one, and dumps, on a netlink socket of our own.

    The socket is connected to the kernel: no other socket can send to it. In a machine's
    netns machine root may send to any port (it holds CAP_NET_ADMIN there), and a flood of
    its messages, ignored but filling our receive buffer, would end each dump with ENOBUFS."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.connect((0, 0))
        self.seq = 0

    def new_link(self, body: bytes) -> None:
        """Create a link (exclusively); NetlinkError if the kernel refuses."""
        self.request(RTM_NEWLINK, body)

    def request(self, kind: int, body: bytes, flags: int = NLM_F_CREATE | NLM_F_EXCL) -> None:
        """One request, acknowledged; NetlinkError if the kernel refuses."""
        self.seq += 1
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, 0) + body)
        self._ack(self.seq)

    def _ack(self, seq: int) -> None:
        """Wait for the NLMSG_ERROR that answers seq (0: done); NetlinkError for a failure."""
        for mtype, data, start, _end in self._answers(seq, 65536):
            if mtype == NLMSG_ERROR:  # an int error code, then the request's header
                _raise_if_error(data, start)
                return

    def dump(self, kind: int, body: bytes, fixed: int, limit: int) -> tuple[list[tuple[bytes, dict[int, bytes]]], int]:
        """A dump request's answers, at most `limit` of them: each message's fixed part (its first
        `fixed` bytes) and its top-level attributes by type (nested ones are left as bytes); and
        how many more the kernel sent (read to the end, not kept: a machine may make millions)."""
        self.seq += 1
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, self.seq, 0) + body)
        out, more = [], 0
        for mtype, data, start, end in self._answers(self.seq, _DUMP_BUFFER):
            if mtype in (NLMSG_DONE, NLMSG_ERROR):  # (a DONE may carry the dump's error too)
                if end - start >= 4:
                    _raise_if_error(data, start)
                return out, more
            if len(out) < limit:
                out.append((data[start:start + fixed], _attributes(data, start + _align(fixed), end)))
            else:
                more += 1

    def _answers(self, seq: int, size: int):
        """The kernel's messages answering seq, as they come: (type, datagram, payload start, end)."""
        while True:
            data, (sender, _groups) = self.sock.recvfrom(size)
            if sender != 0:  # only the kernel answers (the socket is connected to it anyway)
                continue
            offset = 0
            while offset + 16 <= len(data):
                length, mtype, _flags, got = struct.unpack_from("=IHHI", data, offset)
                if length < 16 or offset + length > len(data):
                    raise NetlinkError(errno.EPROTO, "a truncated netlink message")
                if got == seq:
                    yield mtype, data, offset + 16, offset + length
                offset += _align(length)

    def close(self) -> None:
        self.sock.close()


# -- what a machine's kernel says (Hub.snapshot) -----------------------------------------------
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, NLMSG_DONE, NLM_F_DUMP = 18, 22, 26, 3, 0x300
IFA_ADDRESS = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RT_TABLE_MAIN = 254
_DUMP_BUFFER = 65536  # the kernel fills a dump's messages up to the reader's buffer (32 KiB or more)
DUMP_LIMIT = 4096  # links, addresses, or one family's routes (all tables) kept per machine and snapshot
_IFADDR = struct.Struct("=BBBBI")  # struct ifaddrmsg: family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags


@dataclass
class Snapshot:
    links: dict[int, tuple[str, str]]      # ifindex -> (name, MAC as aa:bb:...)
    addresses: list[tuple[int, str]]       # (ifindex, address/prefix), in the kernel's order
    routes: list[tuple[str, str | None, int | None, int]]  # (dst/len or "default", gateway, oif, protocol)
    left_out: int = 0                      # the kernel's answers past DUMP_LIMIT, not read into the above


def _align(n: int) -> int:
    return (n + 3) & ~3


def _raise_if_error(data: bytes, start: int) -> None:
    """NLMSG_ERROR's (and NLMSG_DONE's) int: 0, or a negated errno raised as NetlinkError."""
    code = -struct.unpack_from("=i", data, start)[0]
    if code:
        raise NetlinkError(code, os.strerror(code))


def _attributes(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + 4 <= end:
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            break
        out.setdefault(kind & 0x3FFF, data[offset + 4:offset + size])  # less NLA_F_NESTED, _NET_BYTEORDER
        offset += _align(size)
    return out


def _ip(family: int, raw: bytes) -> str:
    return socket.inet_ntop(family, raw)


def _snapshot(sock: _Requests) -> Snapshot:
    links = {}
    answers, left_out = sock.dump(RTM_GETLINK, _ifinfo(), _IFINFO.size, DUMP_LIMIT)
    for fixed, attrs in answers:
        index = _IFINFO.unpack(fixed)[2]
        name = attrs.get(IFLA_IFNAME, b"").split(b"\0", 1)[0].decode(errors="replace")
        links[index] = (name, ":".join(f"{b:02x}" for b in attrs.get(IFLA_ADDRESS, b"")))
    addresses = []
    answers, more = sock.dump(RTM_GETADDR, _IFADDR.pack(0, 0, 0, 0, 0), _IFADDR.size, DUMP_LIMIT)
    left_out += more
    for fixed, attrs in answers:
        family, prefixlen, _flags, _scope, index = _IFADDR.unpack(fixed)
        if family in (socket.AF_INET, socket.AF_INET6) and IFA_ADDRESS in attrs:
            addresses.append((index, f"{_ip(family, attrs[IFA_ADDRESS])}/{prefixlen}"))
    routes = []
    for family in (socket.AF_INET, socket.AF_INET6):
        answers, more = sock.dump(RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0), _RTMSG.size, DUMP_LIMIT)
        left_out += more
        for fixed, attrs in answers:
            fam, dst_len, _src, _tos, table, protocol, _scope, _type, _flags = _RTMSG.unpack(fixed)
            if RTA_TABLE in attrs:
                table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
            if fam != family or table != RT_TABLE_MAIN:
                continue
            dst = f"{_ip(fam, attrs[RTA_DST])}/{dst_len}" if RTA_DST in attrs else "default"
            gateway = _ip(fam, attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else None
            oif = struct.unpack("=I", attrs[RTA_OIF][:4])[0] if RTA_OIF in attrs else None
            routes.append((dst, gateway, oif, protocol))
    return Snapshot(links, addresses, routes, left_out)
