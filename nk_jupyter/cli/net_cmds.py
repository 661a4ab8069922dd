"""Ways out of the lab and into its wires: port, vdump, vshape."""
from __future__ import annotations

import os
import signal
import sys

from ..errors import UserError
from .common import add_dir, running_lab


def _setup_port(p) -> None:
    add_dir(p)
    p.add_argument("action", choices=("ls", "add", "rm"), help="list, publish or remove a port")
    p.add_argument("rest", nargs="*", metavar="ARG",
                   help="add: MACHINE [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]; rm: [HOSTIP:]HOSTPORT:GUESTPORT[/tcp]")
    p.epilog = ("A published port listens on the host (127.0.0.1 unless HOSTIP is given) and reaches "
                "GUESTPORT on the machine's 127.0.0.1. Ports from lab.conf (m[port]=...) are listed too.")


def port(args) -> int:
    lab = running_lab(args)
    if args.action == "add":
        if len(args.rest) != 2:
            raise UserError("port add: give MACHINE and [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], e.g. nk port add web 8080:80")
        ports = lab.publish(args.rest[0], args.rest[1])
    elif args.action == "rm":
        if len(args.rest) != 1:
            raise UserError("port rm: give [HOSTIP:]HOSTPORT:GUESTPORT[/tcp], e.g. nk port rm 8080:80")
        ports = lab.unpublish(args.rest[0])
    else:
        if args.rest:
            raise UserError("port ls takes no arguments")
        ports = lab.ports()
    if args.action == "ls" or sys.stdout.isatty():
        for p in ports:
            print(f"{p.machine:16} {p.spec}")
    return 0


def _setup_vdump(p) -> None:
    add_dir(p)
    p.add_argument("domain", metavar="DOMAIN", help="the collision domain to capture")
    p.add_argument("-c", "--count", type=int, default=0, metavar="N", help="stop after N frames")
    p.add_argument("-w", "--write", metavar="FILE", help="write pcap to FILE ('-': stdout)")
    p.add_argument("-s", "--snaplen", type=int, default=262144, metavar="BYTES", help="bytes kept per frame")
    p.epilog = ("pcap goes to stdout when it is not a terminal: nk vdump -d LAB A | wireshark -k -i - ; "
                "on a terminal each frame is one line of text. Captured in the lab's hub, where no machine reaches.")


def vdump(args) -> int:
    from .. import pcap
    if args.count < 0 or args.snaplen < 64:
        raise UserError("vdump: --count is 0 or more, --snaplen 64 or more")
    if args.write == "-" and sys.stdout.isatty():
        raise UserError("vdump: -w - writes pcap, which a terminal would interpret; pipe it (| wireshark -k -i -) "
                        "or leave -w out for one line per frame")
    lab = running_lab(args)
    to_file = args.write and args.write != "-"
    raw = bool(args.write) or not sys.stdout.isatty()
    out = os.open(args.write, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if to_file else 1
    stream = lab.capture(args.domain, args.count, args.snaplen)

    def forward(sig, _frame):
        stream.signal("INT")
    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    errors: list[bytes] = []
    try:
        if raw:
            for data in stream.stdout(errors):
                os.write(out, data)
        else:
            for line in pcap.lines(stream.stdout(errors)):
                print(line, flush=True)
    except BrokenPipeError:
        stream.signal("INT")
    except pcap.PcapError as e:
        raise UserError(f"vdump: {e}") from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if to_file:
            os.close(out)
    for line in pcap.notes(errors):
        print(f"nk vdump: {line}", file=sys.stderr)
    status = stream.status or 0
    return 0 if status in (0, -signal.SIGINT, 128 + signal.SIGINT) else 1


def _setup_vshape(p) -> None:
    add_dir(p)
    p.add_argument("target", metavar="MACHINE ethN | DOMAIN", help="a machine and its interface, or a collision domain")
    p.add_argument("shape", nargs="*", metavar="KEY=VALUE", help="rate=10mbit loss=1%% delay=20ms jitter=5ms; none: remove")
    p.epilog = ("e.g. nk vshape pc1 eth0 rate=10mbit loss=1%%, nk vshape A rate=1mbit, nk vshape A none. "
                "Shaping is set on the hub side of each interface: a machine cannot undo it.")


def vshape(args) -> int:
    shape, shaped = running_lab(args).shape_words(args.target, args.shape)
    for item in shaped:
        print(f"{item}: {shape or 'not shaped'}")
    return 0


COMMANDS = {
    "port": (_setup_port, port, "list, publish or remove ports from the host to machines"),
    "vdump": (_setup_vdump, vdump, "capture a collision domain (pcap, or one line per frame on a terminal)"),
    "vshape": (_setup_vshape, vshape, "shape a machine's interface or a whole collision domain (rate, loss, delay)"),
}
