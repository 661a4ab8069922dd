"""Uplink drivers: user-mode networking processes that give a machine's netns a tap device
whose other end is a TCP/IP stack in the host's network namespace (RootlessKit's network
drivers). Started by the lab's host-side helper (helper.py), one per uplink.

Both are run hardened, with RootlessKit's defaults: the host's loopback is unreachable from
the machine unless the lab was started with --host-loopback (then the gateway address, .2 of
the CIDR, is the host's 127.0.0.1).
"""
from __future__ import annotations

import ipaddress
import os
from typing import Protocol

from ..linux import spawn


def _which(name: str) -> str | None:
    """name on the PATH (spawn.which: shutil imports the archive modules, and a supervisor imports this)."""
    return spawn.which(name, os.environ.get("PATH", os.defpath))


class Driver(Protocol):
    name: str
    package: str
    signals: bool  # it reads exit_fd (exits when it closes) and writes ready_fd once up

    def argv(self, netns_path: str, ifname: str, mtu: int, cidr: str, host_loopback: bool, configure: bool,
             exit_fd: int, ready_fd: int) -> list[str]: ...


class Slirp4netns:
    name = "slirp4netns"
    package = "slirp4netns"
    signals = True

    def argv(self, netns_path, ifname, mtu, cidr, host_loopback, configure, exit_fd, ready_fd):
        argv = [_which(self.name) or self.name, f"--mtu={mtu}", f"--cidr={cidr}", f"--exit-fd={exit_fd}",
                f"--ready-fd={ready_fd}", "--enable-sandbox", "--enable-seccomp", "--netns-type=path"]
        if configure:
            argv.append("--configure")
        if not host_loopback:
            argv.append("--disable-host-loopback")
        return argv + [netns_path, ifname]


class Pasta:
    """passt's pasta. It has no exit descriptor: the helper kills it when the uplink goes, and
    it is started through setpriv --pdeathsig, so it dies with the helper too."""
    name = "pasta"
    package = "passt"
    signals = False  # (its tap appearing in the machine says it is up)

    def argv(self, netns_path, ifname, mtu, cidr, host_loopback, configure, exit_fd, ready_fd):
        net = ipaddress.IPv4Network(cidr)
        argv = ["setpriv", "--pdeathsig", "KILL", "--", _which(self.name) or self.name,
                "--netns", netns_path, "--netns-only", "--runas", "0:0",
                "-4", "-I", ifname, "-m", str(mtu), "-T", "none", "-U", "none", "-t", "none", "-u", "none",
                "-q", "-f"]
        if configure:
            argv += ["--config-net", "-a", str(net.network_address + 100), "-n", str(net.prefixlen),
                     "-g", str(net.network_address + 2), "--dns-forward", str(net.network_address + 3)]
        if not host_loopback:
            argv.append("--no-map-gw")
        return argv


DRIVERS: dict[str, Driver] = {"slirp4netns": Slirp4netns(), "pasta": Pasta()}
PREFERENCE = ("slirp4netns", "pasta")  # slirp4netns: sane upload on every path, answers ICMP, exits with the lab


def choose(name: str) -> Driver:
    """The driver for --net-driver NAME ("auto": the first of PREFERENCE installed); UplinkError otherwise."""
    if name == "auto":
        for candidate in PREFERENCE:
            if _which(candidate):
                return DRIVERS[candidate]
        raise UplinkError("no uplink driver is installed: sudo apt install slirp4netns (or passt)")
    if name not in DRIVERS:
        raise UplinkError(f"uplink driver {name!r} is not supported; supported: auto, {', '.join(DRIVERS)}")
    if not _which(name):
        raise UplinkError(f"uplink driver {name} is not installed: sudo apt install {DRIVERS[name].package}")
    return DRIVERS[name]


class UplinkError(Exception):
    pass
