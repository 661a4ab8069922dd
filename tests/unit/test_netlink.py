"""The two boot requests nk encodes itself (linux/netlink.py) are what pyroute2 would send."""
from __future__ import annotations

import struct

from pyroute2.netlink.rtnl.ifinfmsg import IFF_UP, ifinfmsg

from nk_jupyter.linux import netlink


def _pyroute2(attrs: list) -> bytes:
    msg = ifinfmsg()
    msg["flags"] = msg["change"] = IFF_UP
    msg["attrs"] = attrs
    msg.encode()
    return bytes(msg.data[16:])  # less the netlink header


def test_veth_request_is_pyroute2_s():
    peer = [("IFLA_IFNAME", "eth3"), ("IFLA_ADDRESS", "02:42:0a:00:00:05"), ("IFLA_NET_NS_FD", 17)]
    one = [("IFLA_NUM_TX_QUEUES", 1), ("IFLA_NUM_RX_QUEUES", 1)]
    for mtu in (None, 9000):
        for master in (42, None):  # (a bridge's port, or a tc hub's)
            far = peer + ([("IFLA_MTU", mtu)] if mtu else []) + one
            enslaved = [("IFLA_MASTER", master)] if master else []
            want = _pyroute2([("IFLA_IFNAME", "nkv12.3"), *enslaved, *one, ("IFLA_LINKINFO", {"attrs": [
                ("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": far})]})]})])
            assert netlink._veth_request("nkv12.3", master, "eth3", "02:42:0a:00:00:05", 17, mtu) == want


def test_ingress_request_is_pyroute2_s():
    """(pyroute2 encodes the qdisc; it cannot say a filter's mirred to a block, which the
    integration tests run: a frame reaches every other port of its domain, and no other.)"""
    from pyroute2.netlink.rtnl.tcmsg import tcmsg
    msg = tcmsg()
    msg["index"], msg["handle"], msg["parent"] = 7, 0xFFFF0000, 0xFFFFFFF1
    msg["attrs"] = [("TCA_KIND", "ingress")]  # (pyroute2 0.9 has no TCA_INGRESS_BLOCK either)
    msg.encode()
    block = struct.pack("=HHI", 8, 13, 5)  # TCA_INGRESS_BLOCK (13): 5
    assert netlink._ingress_request(7, 5) == bytes(msg.data[16:]) + block


def test_bridge_request_is_pyroute2_s():
    want = _pyroute2([("IFLA_IFNAME", "nkd7"), ("IFLA_IFALIAS", "lan A"), ("IFLA_LINKINFO", {"attrs": [
        ("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", {"attrs": [
            ("IFLA_BR_STP_STATE", 0), ("IFLA_BR_AGEING_TIME", 0), ("IFLA_BR_GROUP_FWD_MASK", 0xFFF8),
            ("IFLA_BR_MCAST_SNOOPING", 0)]})]})])
    assert netlink._bridge_request("nkd7", "lan A") == want
