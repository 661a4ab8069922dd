"""`nk`: Netkit's commands on the nk engine. One table of verbs; errors translated here only.

Exit status: 0 success, 1 a user error (lab file, host set-up, no such machine ...),
2 bad arguments; `vcmd` exits with the command's own status. Bugs show a traceback.
"""
from __future__ import annotations

import argparse
import sys

from ..errors import NkError, UserError
from ..text import SafeStream
from . import lab_cmds, machine_cmds, exec_cmds, net_cmds, wipe, grading_cmds

COMMANDS = {**lab_cmds.COMMANDS, **machine_cmds.COMMANDS, **exec_cmds.COMMANDS, **net_cmds.COMMANDS, **wipe.COMMANDS, **grading_cmds.COMMANDS}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nk", description="Rootless Netkit/Kathara labs (nk-jupyter).")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    for name, (setup, _run, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        setup(sp)
    return p


def _safe_streams() -> None:
    """Everything the CLI prints goes through printable(): a lab's names, lab.conf lines and
    logs cannot send escape sequences to the terminal (vcmd relays a command's own output
    with os.write, untouched)."""
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
        sys.stderr = SafeStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if not args.verb:
        p.print_help()
        return 2
    if extra and args.verb not in ("vstart", "vconfig"):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    _setup, run, _help = COMMANDS[args.verb]
    _safe_streams()
    try:
        return int(run(args) or 0)
    except UserError as e:
        print(f"nk {args.verb}: {e}", file=sys.stderr)
        return 1
    except NkError as e:
        print(f"nk {args.verb}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
