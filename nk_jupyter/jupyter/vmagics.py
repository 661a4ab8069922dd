"""Machine magics: %vcmd / %%vcmd, %vstart, %vhalt, %vcrash, %vconfig and %vlist.

%vcmd takes its own options only before the machine name; the rest of the line goes to
the machine's shell exactly as typed (`%vcmd pc1 ping -c 3 10.0.0.2` keeps ping's -c).
`{python_expression}` in a line is expanded by IPython first: `%vcmd pc1 ping -c1 {ip}`.
"""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..api import ExecResult
from . import tables
from .friendly import DIR_ARG as _DIR, interface_options, split_command, user_errors
from .live import Followers
from .progress import BootProgress, report
from .session import Session

VCMD_VALUES = {"-d", "--directory", "--out"}


@magics_class
class MachineMagics(Magics):
    """Run commands in machines and change single machines of a running lab."""

    def __init__(self, shell, session: Session, followers: Followers) -> None:
        super().__init__(shell)
        self.session, self.followers = session, followers

    def _running_lab(self, where: str | None):
        return self.session.require_running(self.session.resolve(where))

    @line_cell_magic
    @magic_arguments()
    @_DIR
    @argument("-q", "--quiet", action="store_true", help="print nothing; return the ExecResult (r = %%vcmd -q pc1 ...)")
    @argument("--out", metavar="VAR", help="store the ExecResult (stdout, stderr, status, .json()) in VAR")
    @argument("machine", help="the machine to run in")
    @argument("command", nargs="*", help="the command (line magic), or the cell body as a script (%%%%vcmd)")
    @user_errors
    def vcmd(self, line: str, cell: str | None = None):
        """Run a command in a machine; its output streams into the cell as it comes.

        Stop a long command with the kernel's interrupt (the lab keeps running). A non-zero
        exit status is shown on stderr. With -q nothing is printed and the ExecResult is
        returned: `r = %vcmd -q pc1 ip -j addr` then `r.json()`, `r.stdout`, `r.status`.

        Examples: `%vcmd pc1 ping -c 3 10.0.0.2`, or a cell starting `%%vcmd r1`.
        """
        __tracebackhide__ = True  # noqa: F841
        options, machine, command = split_command(line, VCMD_VALUES)
        if not machine:
            raise UsageError("say which machine: %vcmd MACHINE COMMAND (see %vcmd?)")
        args = parse_argstring(self.vcmd, " ".join(options + [machine]))
        if cell is not None:
            if command:
                raise UsageError(f"%%vcmd {machine}: put the commands in the cell body, not after the machine name")
            command = cell
        if not command.strip():
            raise UsageError(f"no command given for {machine}: %vcmd {machine} COMMAND")
        lab = self._running_lab(args.directory)
        from .stream import report_status, run_streamed
        try:
            result = run_streamed(lab, args.machine, command, quiet=args.quiet)
        finally:
            self.followers.of(lab).poke()
        if args.out:
            self.shell.push({args.out: result})
        if args.quiet:
            return result
        report_status(result)
        return None

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("--exec", action="append", default=[], metavar="CMD", help="a command to run at boot")
    @argument("machine", help="the new machine's name")
    @argument("interfaces", nargs="*", metavar="--ethN=DOMAIN", help="its interfaces, e.g. --eth0=A --eth1=B")
    @user_errors
    def vstart(self, line: str) -> None:
        """Start one extra machine in the running lab, plugged into collision domains.

        Example: `%vstart pc3 --eth0=A`
        """
        ifaces, rest = interface_options(line.split())
        args = parse_argstring(self.vstart, " ".join(rest))
        if not ifaces or any(v is None for v in ifaces.values()):
            raise UsageError("give the new machine's interfaces: %vstart NAME --eth0=DOMAIN")
        lab = self.session.resolve(args.directory)
        progress = BootProgress(lab.model.name, [args.machine], widget=False)
        result = lab.vstart(args.machine, ifaces, args.exec, progress=progress)
        report(lab, result)
        self.followers.of(lab).start()
        self.followers.of(lab).poke()

    def _stop(self, line: str, magic, how: str) -> None:
        args = parse_argstring(magic, line)
        lab = self._running_lab(args.directory)
        names = sorted(set(args.machines), key=args.machines.index)
        (lab.halt if how == "halted" else lab.crash)(names)
        print(f"{', '.join(names)} {how}.", flush=True)

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("machines", nargs="+", metavar="MACHINE", help="machines to halt")
    @user_errors
    def vhalt(self, line: str) -> None:
        """Halt machines (shutdown scripts run; their files are kept). Example: `%vhalt pc2`"""
        self._stop(line, self.vhalt, "halted")

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("machines", nargs="+", metavar="MACHINE", help="machines to crash")
    @user_errors
    def vcrash(self, line: str) -> None:
        """Stop machines at once, discarding their files. Example: `%vcrash pc2`"""
        self._stop(line, self.vcrash, "crashed")

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("machine", help="a running machine")
    @argument("interfaces", nargs="*", metavar="--ethN=DOMAIN", help="--eth1=B plugs eth1 into B; --eth1=none unplugs it")
    @user_errors
    def vconfig(self, line: str) -> None:
        """Plug interfaces of a running machine into collision domains, or unplug them.

        Examples: `%vconfig r1 --eth2=C` (new link), `%vconfig r1 --eth1=none` (link failure)
        """
        ifaces, rest = interface_options(line.split())
        args = parse_argstring(self.vconfig, " ".join(rest))
        if not ifaces:
            raise UsageError("say what to change: %vconfig MACHINE --eth1=DOMAIN (or --eth1=none)")
        lab = self._running_lab(args.directory)
        lab.vconfig(args.machine, ifaces)
        said = ", ".join(f"eth{n} {'unplugged' if d is None else 'on ' + d}" for n, d in sorted(ifaces.items()))
        print(f"{args.machine}: {said}.", flush=True)
        self.followers.of(lab).poke()

    @line_magic
    @magic_arguments()
    @_DIR
    @argument("-l", "--long", action="store_true", help="also show PIDs and memory")
    @user_errors
    def vlist(self, line: str):
        """List the machines of the lab with their states and interfaces. Example: `%vlist`"""
        args = parse_argstring(self.vlist, line)
        lab = self._running_lab(args.directory)
        return tables.machine_table(lab.model.name, lab.info(memory=args.long), args.long)


__all__ = ["MachineMagics", "ExecResult"]
