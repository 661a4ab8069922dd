"""Link shaping on the hub side of a machine's interface (model/shaping.py has the syntax).

The hub end of ethN (nkvI.N) is the supervisor's: a machine cannot see or undo what is set
there. Towards the machine, the hub end's egress: tbf (rate), or netem (delay, jitter; with
its own rate) where the kernel has it. From the machine: the hub end's ingress is redirected
(mirred) to an ifb device, nkiI.N, whose egress has the same tbf (this kernel has no tc
police action; an nftables `limit` allows a burst of a whole second). Loss both ways:
nftables on the hub's bridges (`numgen random`), table bridge nk_shape. A shaped interface's
domain is a bridge (Hub.as_bridge: a tc hub's ports have their ingress on the domain's block).
"""
from __future__ import annotations

import errno
import struct

from ..linux import netlink
from ..model.shaping import Shape


def ifb_name(index: int, ifnum: int) -> str:
    return f"nki{index}.{ifnum}"


class ShapeError(Exception):
    pass


class Shaper:
    def __init__(self, hub: netlink.Hub) -> None:
        self.hub = hub
        self.shapes: dict[tuple[int, int], Shape] = {}

    def apply(self, index: int, ifnum: int, shape: Shape) -> list[str]:
        """Shape (or, with an empty Shape, unshape) a plugged interface; returns warnings."""
        try:
            self._apply(index, ifnum, shape)
        except ShapeError as e:
            return [f"eth{ifnum} is not shaped: {e}"]
        return []

    def set(self, index: int, ifnum: int, shape: Shape) -> None:
        """Like apply, but a problem is an error (ShapeError)."""
        self._apply(index, ifnum, shape)

    def _apply(self, index: int, ifnum: int, shape: Shape) -> None:
        domain = self.hub.port_domain.get((index, ifnum))
        if domain is None:
            raise ShapeError("the interface is not plugged into a collision domain")
        if shape.empty and (index, ifnum) not in self.shapes:
            return  # nothing set, nothing to undo (and a tc hub's port is left alone)
        self.hub.as_bridge(domain)  # (the ifb and the loss rules need the domain on a bridge)
        ipr = self.hub.ipr
        name = netlink.veth_name(index, ifnum)
        found = ipr.link_lookup(ifname=name)
        if not found:
            raise ShapeError("the interface is not plugged into a collision domain")
        idx = found[0]
        try:
            ipr.tc("del", index=idx, parent=0xFFFFFFFF)
        except netlink.NetlinkError:
            pass
        try:
            ipr.tc("del", "ingress", idx, "ffff:")
        except netlink.NetlinkError:
            pass
        self._drop_ifb(index, ifnum)
        old = self.shapes.pop((index, ifnum), None)
        try:
            if shape.delay_ms or shape.jitter_ms:
                extra = {"rate": shape.rate_bps // 8} if shape.rate_bps else {}
                try:
                    ipr.tc("add", "netem", idx, handle="1:", delay=int(shape.delay_ms * 1000),
                           jitter=int(shape.jitter_ms * 1000), **extra)
                except netlink.NetlinkError as e:
                    if e.code in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL):
                        raise ShapeError("delay and jitter need the kernel's netem (sch_netem), which this "
                                         "kernel does not have (on most distributions: sudo modprobe sch_netem)") from None
                    raise
            elif shape.rate_bps:
                self._tbf(idx, shape.rate_bps)
            if shape.rate_bps:  # from the machine: through an ifb with the same tbf
                ifb = ifb_name(index, ifnum)
                ipr.link("add", ifname=ifb, kind="ifb", state="up")
                ifb_idx = ipr.link_lookup(ifname=ifb)[0]
                self._tbf(ifb_idx, shape.rate_bps)
                ipr.tc("add", "ingress", idx, "ffff:")
                ipr.tc("add-filter", "u32", idx, parent="ffff:", prio=1, protocol=0x0003,  # ETH_P_ALL (pyroute2 converts the byte order)
                       keys=["0x0/0x0+0"], target=0x10001,
                       action={"kind": "mirred", "direction": "egress", "action": "redirect", "ifindex": ifb_idx})
        except (netlink.NetlinkError, KeyError, ValueError, TypeError, OverflowError, struct.error) as e:  # pyroute2's too
            raise ShapeError(f"the kernel refused the shaping: {e}") from None
        if not shape.empty:
            self.shapes[(index, ifnum)] = shape
        if shape.loss_pct or (old and old.loss_pct):
            self._nft()

    def _tbf(self, idx: int, rate_bps: int) -> None:
        burst = max(rate_bps // 8 // 250, 3200)  # 4 ms of traffic, at least two frames
        self.hub.ipr.tc("add", "tbf", idx, handle="1:", rate=rate_bps // 8, burst=burst, latency=50000)

    def _drop_ifb(self, index: int, ifnum: int) -> None:
        found = self.hub.ipr.link_lookup(ifname=ifb_name(index, ifnum))
        if found:
            try:
                self.hub.ipr.link("del", index=found[0])
            except netlink.NetlinkError:
                pass

    def _nft(self) -> None:
        rules = []
        for (index, ifnum), shape in sorted(self.shapes.items()):
            name = netlink.veth_name(index, ifnum)
            if shape.loss_pct:
                per = int(round(shape.loss_pct * 100))  # in 1/10000
                for way in ("iifname", "oifname"):
                    rules.append(f'  {way} "{name}" numgen random mod 10000 < {per} drop')
        text = "table bridge nk_shape {\n chain forward {\n  type filter hook forward priority 0;\n" + \
            "\n".join(rules) + "\n }\n}\n"
        try:
            self.hub.nft("table bridge nk_shape {}\ndelete table bridge nk_shape\n" + text)
        except OSError as e:
            raise ShapeError(f"cannot set the shaping (nftables): {e.strerror or e}") from None

    def forget(self, index: int, ifnum: int) -> None:
        shape = self.shapes.pop((index, ifnum), None)
        if shape and shape.rate_bps:
            self._drop_ifb(index, ifnum)
        if shape and shape.loss_pct:
            try:
                self._nft()
            except ShapeError:
                pass

    def of(self, index: int, ifnum: int) -> Shape | None:
        return self.shapes.get((index, ifnum))
