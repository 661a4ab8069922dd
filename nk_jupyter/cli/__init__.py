"""`nk`: Netkit's commands on the nk engine. One table of verbs; errors translated here only.

Exit status: 0 success, 1 a user error (lab file, host set-up, no such machine ...),
2 bad arguments; `vcmd` exits with the command's own status. Bugs show a traceback.
"""
from __future__ import annotations

import importlib
import sys

from ..errors import NkError, UserError

# verb -> module (imported only for the verb that runs: `nk vcmd` must start fast)
MODULES = {
    **dict.fromkeys(("lstart", "lhalt", "lcrash", "lclean", "lrestart", "linfo"), "lab_cmds"),
    **dict.fromkeys(("vstart", "vhalt", "vcrash", "vconfig", "vlist"), "machine_cmds"),
    **dict.fromkeys(("vcmd", "vconnect", "shell"), "exec_cmds"),
    **dict.fromkeys(("port", "vdump", "vshape"), "net_cmds"),
    "wipe": "wipe",
    **dict.fromkeys(("ltest", "check", "nbval-sanitize-path"), "grading_cmds"),
}


def commands(verbs=None) -> dict:
    """{verb: (setup, run, help)} of those verbs (default: all)."""
    out = {}
    for module in dict.fromkeys(MODULES[v] for v in (verbs or MODULES)):
        out.update(importlib.import_module(f"{__name__}.{module}").COMMANDS)
    return {v: out[v] for v in (verbs or MODULES) if v in out}


def parser(verbs=None):
    import argparse
    p = argparse.ArgumentParser(prog="nk", description="Rootless Netkit/Kathara labs (nk-jupyter).")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")
    for name, (setup, _run, help_text) in commands(verbs).items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        setup(sp)
    return p


def _verb(argv: list[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in MODULES else None
        if arg in ("-h", "--help"):
            return None
    return None


def _safe_streams() -> None:
    """Everything the CLI prints goes through printable(): a lab's names, lab.conf lines and
    logs cannot send escape sequences to the terminal (vcmd relays a command's own output
    with os.write, untouched)."""
    from ..text import SafeStream
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
        sys.stderr = SafeStream(sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["vcmd"]:  # the plain `nk vcmd [-d DIR] MACHINE COMMAND...` starts fast
        try:
            from .relay import quick_vcmd
            status = quick_vcmd(argv[1:])
        except NkError as e:
            _safe_streams()
            print(f"nk vcmd: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        if status is not None:
            return status
    verb = _verb(argv)
    p = parser([verb] if verb else None)
    args, extra = p.parse_known_args(argv)
    if not args.verb:
        p.print_help()
        return 2
    if extra and args.verb not in ("vstart", "vconfig"):
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    _setup, run, _help = commands([args.verb])[args.verb]
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
