"""Lab magics: %lstart %lhalt %lcrash %lclean %lrestart %lattach %linfo %ltopo and %%lab.

They act on the kernel's current lab (the last one started or attached) unless
`-d DIR` names a lab folder or the NAME of a %%lab lab. `%lstart?` shows the help.
Settings: `%config LabMagics.show_topology = False` stops the automatic topology view.
"""
from __future__ import annotations

import os
from pathlib import Path

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool

from ..errors import UserError
from . import labops, tables
from .friendly import DIR_ARG as _DIR, user_errors
from .live import Followers
from ..api import running_labs
from ..api import IMAGE_POLICIES
from ..model.states import MachineState
from ..model.uplinks import DRIVERS
from .session import Session, where

_HOST_LOOPBACK = argument("--host-loopback", action="store_true",
                          help="let bridged/tap machines reach the host's 127.0.0.1 at the gateway address")
_NET_DRIVER = argument("--net-driver", choices=DRIVERS, default="auto",
                       help="user-mode networking of bridged/tap machines")
_NO_TOPO = argument("--no-topo", action="store_true", help="do not show the topology view")
_VAR = argument("--var", metavar="NAME", help="also store the Lab object in the Python variable NAME")
_IMAGES = argument("--images", choices=list(IMAGE_POLICIES), default="auto",
                   help="what a machine with image= runs on: " + "; ".join(f"{k}: {v}" for k, v in IMAGE_POLICIES.items()))


def _looks_like_lab(arg: str) -> bool:
    p = Path(arg).expanduser()
    return p.is_dir() and ("/" in arg or arg in (".", "..") or (p / "lab.conf").exists() or (p / "lab.dep").exists())


def _uplinks(args):
    from ..api import UplinkOptions
    return UplinkOptions(driver=args.net_driver, host_loopback=args.host_loopback)


@magics_class
class LabMagics(Magics):
    """Start, stop and inspect whole labs."""

    show_topology = Bool(True, help="show the live topology view after %lstart, %%lab and %lattach").tag(config=True)

    def __init__(self, shell, session: Session, followers: Followers) -> None:
        super().__init__(shell)
        self.session, self.followers = session, followers

    def _topo(self, args) -> bool:
        return self.show_topology and not args.no_topo

    def _store(self, args, lab) -> None:
        if args.var:
            self.shell.push({args.var: lab})

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("-o", "--option", action="append", default=[], metavar="OPT",
              help="a machine option for every machine, as in lab.conf (mem=256, ipv6=true ...)")
    @argument("-F", "--force", action="store_true", help="a folder without lab.conf: its sub-folders are machines")
    @argument("--fast", action="store_true", help="return without waiting for the startup scripts")
    @_IMAGES
    @_HOST_LOOPBACK
    @_NET_DRIVER
    @_NO_TOPO
    @_VAR
    @argument("args", nargs="*", metavar="[DIR] [MACHINE ...]", help="lab folder, then machines to start (all if none)")
    @user_errors
    def lstart(self, line: str) -> None:
        """Start a lab (or some of its machines) and show its progress and topology.

        Example: `%lstart labs/ospf` or `%lstart -d labs/ospf r1 r2`
        """
        args = parse_argstring(self.lstart, line)
        where, machines = args.directory, list(args.args)
        if where is None and machines and _looks_like_lab(machines[0]):
            where = machines.pop(0)
        if where is not None:
            lab = self.session.lab_at(self.session.folder_of(where), args.option, fresh=True, force=args.force)
        elif self.session.current is not None and not args.option:
            current = self.session.current
            lab = current if current.running else self.session.lab_at(current.directory, current.overrides, fresh=True)
        else:
            lab = self.session.lab_at(Path(os.getcwd()), args.option, fresh=True, force=args.force)
        labops.boot(self.session, self.followers, lab, machines, self._topo(args), args.fast, images=args.images,
                    uplinks=_uplinks(args))
        self._store(args, lab)

    @cell_magic
    @magic_arguments()
    @argument("name", nargs="?", default="lab", help="the lab's name (letters, digits, - and _); default: lab")
    @argument("-o", "--option", action="append", default=[], metavar="OPT", help="a machine option for every machine")
    @argument("--fast", action="store_true", help="return without waiting for the startup scripts")
    @_IMAGES
    @_HOST_LOOPBACK
    @_NET_DRIVER
    @_NO_TOPO
    @_VAR
    @user_errors
    def lab(self, line: str, cell: str) -> None:
        """Define and start a whole lab in one cell: lab.conf lines, then `--- FILE ---` sections.

        Example:
            %%lab lan
            pc1[0]=A
            pc2[0]=A
            --- pc1.startup ---
            ip addr add 10.0.0.1/24 dev eth0
            --- pc2.startup ---
            ip addr add 10.0.0.2/24 dev eth0
        Running the cell again replaces the lab of that name.
        """
        args = parse_argstring(self.lab, line)
        lab = labops.text_lab(args.name, cell, args.option)
        self.session.use(lab)
        labops.boot(self.session, self.followers, lab, None, self._topo(args), args.fast, images=args.images,
                    uplinks=_uplinks(args))
        self._store(args, lab)

    @line_magic
    @magic_arguments()
    @_DIR
    @user_errors
    def lhalt(self, line: str) -> None:
        """Halt the lab: run the shutdown scripts, stop every machine, keep their files.

        Example: `%lhalt`
        """
        lab = self.session.require_running(self.session.resolve(parse_argstring(self.lhalt, line).directory))
        lab.halt()
        print(f"Lab {lab.model.name!r} halted.", flush=True)

    @line_magic
    @magic_arguments()
    @_DIR
    @user_errors
    def lcrash(self, line: str) -> None:
        """Stop every machine at once and discard their files.

        Example: `%lcrash`
        """
        lab = self.session.require_running(self.session.resolve(parse_argstring(self.lcrash, line).directory))
        lab.crash()
        print(f"Lab {lab.model.name!r} crashed (machines' files discarded).", flush=True)

    @line_magic
    @magic_arguments()
    @_DIR
    @user_errors
    def lclean(self, line: str) -> None:
        """Remove what a stopped lab left behind (its machines' files and logs).

        Example: `%lclean`
        """
        lab = self.session.resolve(parse_argstring(self.lclean, line).directory)
        lab.clean()
        print(f"Lab {lab.model.name!r} cleaned.", flush=True)

    @line_magic
    @magic_arguments()
    @_DIR
    @_NO_TOPO
    @user_errors
    def lrestart(self, line: str) -> None:
        """Halt the lab if it runs, then start it again (machines keep their files).

        Example: `%lrestart`
        """
        args = parse_argstring(self.lrestart, line)
        lab = self.session.resolve(args.directory)
        if lab.running:
            lab.halt()
        lab = self.session.lab_at(lab.directory, lab.overrides, fresh=True)
        labops.boot(self.session, self.followers, lab, None, self._topo(args), verb="restarted")

    @line_magic
    @magic_arguments()
    @_NO_TOPO
    @_VAR
    @argument("where", nargs="?", metavar="DIR", help="lab folder or %%%%lab name; default: the only running lab")
    @user_errors
    def lattach(self, line: str) -> None:
        """Make a running lab (started by the CLI, or before a kernel restart) the current lab.

        Example: `%lattach labs/ospf`
        """
        args = parse_argstring(self.lattach, line)
        if args.where is None:
            running = running_labs()
            if len(running) != 1:
                names = ", ".join(str(r.directory) for r in running) or "none"
                raise UserError(f"{len(running)} labs are running ({names}); say which: %lattach DIR")
            folder = running[0].directory
        else:
            folder = self.session.folder_of(args.where)
        lab = self.session.require_running(self.session.use(self.session.lab_at(folder, fresh=True)))
        up = sum(1 for m in lab.info() if m.state == MachineState.RUNNING)
        print(f"Attached to lab {lab.model.name!r} in {where(lab)} ({up} machines running).", flush=True)
        if self._topo(args):
            display(self.followers.view(lab))
        self._store(args, lab)

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("-a", "--all", action="store_true", help="list every running lab of this user")
    @user_errors
    def linfo(self, line: str):
        """Show the current lab (collision domains, states), or every running lab.

        Example: `%linfo` or `%linfo --all`
        """
        args = parse_argstring(self.linfo, line)
        if args.all or (args.directory is None and self.session.current is None):
            return tables.labs_table(running_labs(), os.getpid())
        lab = self.session.resolve(args.directory)
        return tables.lab_table(lab.topology(), where(lab), lab.running, lab.owner, os.getpid())

    @line_magic
    @magic_arguments()
    @_DIR
    @user_errors
    def ltopo(self, line: str):
        """Show the lab's topology: live graph, click a machine for its interfaces and routes.

        Example: `%ltopo`
        """
        lab = self.session.resolve(parse_argstring(self.ltopo, line).directory)
        return self.followers.view(lab)
