"""The two boot requests nk encodes itself (linux/netlink.py) are what pyroute2 would send."""
from __future__ import annotations

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
        far = peer + ([("IFLA_MTU", mtu)] if mtu else []) + one
        want = _pyroute2([("IFLA_IFNAME", "nkv12.3"), ("IFLA_MASTER", 42), *one, ("IFLA_LINKINFO", {"attrs": [
            ("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", {"attrs": far})]})]})])
        assert netlink._veth_request("nkv12.3", 42, "eth3", "02:42:0a:00:00:05", 17, mtu) == want


def test_bridge_request_is_pyroute2_s():
    want = _pyroute2([("IFLA_IFNAME", "nkd7"), ("IFLA_IFALIAS", "lan A"), ("IFLA_LINKINFO", {"attrs": [
        ("IFLA_INFO_KIND", "bridge"), ("IFLA_INFO_DATA", {"attrs": [
            ("IFLA_BR_STP_STATE", 0), ("IFLA_BR_AGEING_TIME", 0), ("IFLA_BR_GROUP_FWD_MASK", 0xFFF8),
            ("IFLA_BR_MCAST_SNOOPING", 0)]})]})])
    assert netlink._bridge_request("nkd7", "lan A") == want
