"""The one place where nk errors become IPython UsageErrors, plus small argument helpers.

Every magic is wrapped with @user_errors: a UserError (bad lab file, unknown machine, no
lab running ...) or an ExecError shows as one line (`UsageError: ...`), never with a
traceback. EngineError and real bugs keep their traceback: they are for us to fix.
(UsageError cannot be subclassed usefully, so errors are converted, not inherited.)
"""
from __future__ import annotations

import functools
import re
from typing import Callable

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

from ..text import printable
from ..errors import ExecError, UserError

# every magic's -d: which lab it acts on
DIR_ARG = argument("-d", "--directory", metavar="DIR", help="the lab folder (or %%%%lab name); default: the current lab")
_TOKEN = re.compile(r"""\s*("[^"]*"|'[^']*'|\S+)""")


def user_errors(fn: Callable) -> Callable:
    """Decorate a magic so that user mistakes are shown as one line."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841  (IPython leaves this frame out of tracebacks)
        try:
            return fn(*args, **kwargs)
        except (UserError, ExecError) as e:
            raise UsageError(printable(e)) from None
    return wrapper


def split_command(line: str, with_value: set[str]) -> tuple[list[str], str, str]:
    """Split `[OPTIONS] MACHINE COMMAND...` into (option tokens, machine, raw command).

    Only the options before MACHINE belong to the magic (so `ping -c 3` keeps its -c);
    the command is the rest of the line exactly as typed, quotes included, for the
    machine's shell. with_value lists the options that take a value (e.g. {"-d", "--out"}).
    """
    options: list[str] = []
    pos = 0
    expect_value = False
    while True:
        match = _TOKEN.match(line, pos)
        if match is None:
            return options, "", ""
        token, pos = match.group(1), match.end()
        if expect_value:
            options.append(_unquote(token))
            expect_value = False
        elif token.startswith("-") and len(token) > 1:
            options.append(token)
            expect_value = token in with_value
        else:
            return options, _unquote(token), line[pos:].strip()


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    return token


def interface_options(tokens: list[str]) -> tuple[dict[int, str | None], list[str]]:
    """Netkit's `--eth0=A` / `--eth 0=A` / `--eth 0:A` (A empty or 'none': unplug).

    Returns ({0: "A"}, the other tokens).
    """
    found: dict[int, str | None] = {}
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        m = re.fullmatch(r"--eth(\d+)=(.*)", tok)
        if m is None and tok == "--eth" and i + 1 < len(tokens):
            i += 1
            m = re.fullmatch(r"(\d+)[=:](.*)", tokens[i])
        if m is None and tok.startswith("--eth"):
            raise UsageError(f"{tok}: write --ethN=DOMAIN, e.g. --eth0=A (or --eth1=none to unplug)")
        if m is None:
            rest.append(tok)
        else:
            value = m.group(2).strip()
            found[int(m.group(1))] = None if value in ("", "none") else value
        i += 1
    return found, rest
