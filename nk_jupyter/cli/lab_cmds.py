"""Lab verbs: lstart, lhalt, lcrash, lclean, lrestart, linfo."""
from __future__ import annotations

import sys

from ..api import start_summary
from ..api import IMAGE_POLICIES, UplinkOptions
from ..model.uplinks import DEFAULT_MTU, DRIVERS, UPLINK_CIDR
from .common import Progress, add_dir, open_lab, running_lab


def _setup_lstart(p) -> None:
    add_dir(p)
    p.add_argument("machines", nargs="*", metavar="MACHINE", help="start only these (and their lab.dep prerequisites)")
    p.add_argument("-f", "--fast", action="store_true", help="return once machines exist, without waiting for startups")
    p.add_argument("-p", "--parallel", type=int, default=0, metavar="N", help="run at most N startups at once (0: no limit)")
    p.add_argument("-o", "--pass", dest="options", action="append", default=[], metavar="OPT",
                   help="option for every machine, e.g. -o mem=64m or -o exec='echo hi' (repeatable)")
    p.add_argument("-F", "--force-lab", dest="force", action="store_true", help="start a folder with no lab.conf")
    p.add_argument("--timeout", type=float, default=300, metavar="S", help="per-machine startup timeout (default 300)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when a startup fails (by default, as Netkit and Kathara, the machine keeps running)")
    p.add_argument("--images", choices=list(IMAGE_POLICIES), default="auto",
                   help="what a machine with image= runs on: " + "; ".join(f"{k}: {v}" for k, v in IMAGE_POLICIES.items()))
    add_uplink_options(p)


def add_uplink_options(p) -> None:
    g = p.add_argument_group("uplinks (machines with bridged=true or a Netkit tap interface)")
    g.add_argument("--net-driver", choices=DRIVERS, default="auto",
                   help="user-mode networking: slirp4netns or pasta (auto: slirp4netns if installed)")
    g.add_argument("--host-loopback", action="store_true",
                   help="let machines reach the host's 127.0.0.1 at the gateway address (off by default)")
    g.add_argument("--uplink-mtu", type=int, default=DEFAULT_MTU, metavar="N", help=f"default {DEFAULT_MTU}")
    g.add_argument("--uplink-cidr", default=UPLINK_CIDR, metavar="CIDR",
                   help=f"of the bridged interface (default {UPLINK_CIDR}: machine .100, gateway .2, DNS .3)")


def uplink_options(args) -> UplinkOptions:
    return UplinkOptions(args.net_driver, args.host_loopback, args.uplink_mtu, args.uplink_cidr)


def lstart(args) -> int:
    lab = open_lab(args, args.options)
    for w in lab.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if lab.model.ignored_folders:
        print(f"note: folders not started (not in lab.conf): {', '.join(lab.model.ignored_folders)}", file=sys.stderr)
    progress = Progress(args.quiet)
    try:
        result = lab.start(args.machines or None, progress=progress, fast=args.fast,
                           timeout=args.timeout, parallel=args.parallel, images=args.images,
                           uplinks=uplink_options(args))
    except KeyboardInterrupt:
        progress.done()
        if lab.running:
            print(f"nk lstart: interrupted; the lab goes on booting in the background (nk linfo -d {args.directory} "
                  f"shows its machines, nk lcrash -d {args.directory} stops it)", file=sys.stderr)
        return 130
    finally:
        progress.done()
    for name in result.failed:
        print(f"nk lstart: {name} failed: {result.details.get(name, '')}", file=sys.stderr)
        print(lab.startup_log(name, 10) or "(no startup log)", file=sys.stderr)
    for line in start_summary(result):
        print(f"nk lstart: {line}", file=sys.stderr)
    if not args.quiet:
        n = len(result.machines)
        already = len(result.already_running)
        ok = n - len(result.failed) - already
        note = f" ({already} already running)" if already else ""
        print(f"lab {lab.model.name}: {ok} of {n - already} machine(s) started{note}", file=sys.stderr)
    bad_startup = any(s.status for s in result.startups.values())
    return 1 if result.failed or (args.strict and bad_startup) else 0


def _setup_stop(p) -> None:
    add_dir(p)
    p.add_argument("machines", nargs="*", metavar="MACHINE")


def lhalt(args) -> int:
    running_lab(args).halt(args.machines or None)
    return 0


def lcrash(args) -> int:
    running_lab(args).crash(args.machines or None)
    return 0


def lclean(args) -> int:
    lab = open_lab(args, force=True)
    if lab.running:
        lab.crash()
    else:
        lab.clean()
    return 0


def lrestart(args) -> int:
    lab = open_lab(args, args.options)
    if lab.running:
        lab.crash()
    return lstart(args)


def linfo(args) -> int:
    lab = open_lab(args, force=True)
    meta = lab.model.metadata
    for key in ("LAB_NAME", "LAB_DESCRIPTION", "LAB_VERSION", "LAB_AUTHOR", "LAB_EMAIL", "LAB_WEB"):
        if meta.get(key):
            print(f"{key[4:].capitalize():12} {meta[key]}")
    print(f"{'Folder':12} {lab.directory}")
    print(f"{'lab.dep':12} {'yes' if lab.model.has_dep_file else 'no'}")
    topo = lab.topology()
    print(f"{'State':12} {'running' if lab.running else 'not running'}")
    print(f"\n{'MACHINE':16} {'STATE':10} INTERFACES")
    for m in topo.machines:
        ifs = "  ".join(f"{i.name}={i.domain}" + (f" {','.join(i.addresses)}" if i.addresses else "")
                        for i in m.interfaces)
        image = f"  [{m.image}]" if m.image else ""
        print(f"{m.name:16} {m.state.value:10} {ifs}{image}")
    print(f"\n{'DOMAIN':16} MEMBERS")
    for d in topo.domains:
        print(f"{d.name:16} {' '.join(d.members)}")
    return 0


COMMANDS = {
    "lstart": (_setup_lstart, lstart, "start a lab (returns when every startup has finished)"),
    "lhalt": (_setup_stop, lhalt, "halt a lab gracefully (shutdown scripts run; machines keep their files)"),
    "lcrash": (_setup_stop, lcrash, "stop a lab at once and discard its machines' files"),
    "lclean": (_setup_stop, lclean, "remove everything a lab left (its machines' files included)"),
    "lrestart": (_setup_lstart, lrestart, "crash then start a lab again"),
    "linfo": (add_dir, linfo, "show a lab's description, machines and collision domains"),
}
