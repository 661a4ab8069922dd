"""Machine verbs: vstart, vhalt, vcrash, vlist, vconfig."""
from __future__ import annotations

import re

from ..api import Lab, running_labs
from ..errors import UserError
from .common import Progress, add_dir, open_lab, running_lab

ETH = re.compile(r"^--eth(\d+)=(.*)$")


def _eth_args(extra: list[str]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for arg in extra:
        m = ETH.match(arg)
        if not m:
            raise UserError(f"unexpected argument {arg!r}: interfaces are given as --ethN=DOMAIN")
        domain = m.group(2).strip("\"'")
        out[int(m.group(1))] = None if domain in ("", "none") else domain
    return out


def _setup_vstart(p) -> None:
    add_dir(p)
    p.add_argument("name", metavar="NAME")
    p.add_argument("-e", "--exec", dest="exec_commands", action="append", default=[], metavar="CMD")
    p.epilog = "interfaces: --eth0=DOMAIN --eth1=DOMAIN ..."


def vstart(args) -> int:
    ifaces = _eth_args(args.extra)
    if any(v is None for v in ifaces.values()):
        raise UserError("vstart: every --ethN needs a collision domain")
    lab = open_lab(args, force=True)
    result = lab.vstart(args.name, ifaces, args.exec_commands, progress=Progress())
    return 1 if result.failed else 0


def _setup_one(p) -> None:
    add_dir(p)
    p.add_argument("machines", nargs="+", metavar="MACHINE")


def vhalt(args) -> int:
    running_lab(args).halt(args.machines)
    return 0


def vcrash(args) -> int:
    running_lab(args).crash(args.machines)
    return 0


def _setup_vconfig(p) -> None:
    add_dir(p)
    p.add_argument("machine", metavar="MACHINE")
    p.epilog = "--ethN=DOMAIN plugs ethN into DOMAIN; --ethN= (or --ethN=none) unplugs it"


def vconfig(args) -> int:
    ifaces = _eth_args(args.extra)
    if not ifaces:
        raise UserError("vconfig: give at least one --ethN=DOMAIN (or --ethN= to unplug)")
    running_lab(args).vconfig(args.machine, ifaces)
    return 0


def _setup_vlist(p) -> None:
    p.add_argument("-n", "--no-header", action="store_true")


def vlist(args) -> int:
    rows = []
    for running in running_labs():
        try:
            machines = Lab.attach(running.directory).info(memory=True)
        except UserError:
            continue
        for m in machines:
            if m.pid:
                ifs = ",".join(f"{k}:{v}" for k, v in m.interfaces.items())
                rows.append((str(running.directory), m.name, str(m.pid), f"{m.memory_kib or 0}", m.state.value, ifs))
    if not args.no_header:
        print(f"{'LAB':30} {'MACHINE':14} {'PID':>7} {'MEM(KiB)':>9} {'STATE':9} INTERFACES")
    for r in rows:
        print(f"{r[0]:30} {r[1]:14} {r[2]:>7} {r[3]:>9} {r[4]:9} {r[5]}")
    return 0


COMMANDS = {
    "vstart": (_setup_vstart, vstart, "start one machine: nk vstart NAME --eth0=DOMAIN ..."),
    "vhalt": (_setup_one, vhalt, "halt machines gracefully"),
    "vcrash": (_setup_one, vcrash, "stop machines at once, discarding their files"),
    "vconfig": (_setup_vconfig, vconfig, "hot-plug or unplug interfaces: nk vconfig pc1 --eth1=B"),
    "vlist": (_setup_vlist, vlist, "list all running machines of this user"),
}
