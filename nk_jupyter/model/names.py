"""What a machine or collision domain may be called: one rule for every door (lab.conf, the
CLI, the API, the magics, and the supervisor, which checks again because names become
folder names, hostnames and interface aliases)."""
from __future__ import annotations

import re

from nk_jupyter.errors import UserError

# Debian hostname(7) as Netkit-JH checks it, plus `_` (Kathara) and one-character names.
MACHINE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,62}[a-zA-Z0-9])?")
RESERVED_NAMES = ("shared", "_test", "CVS")
DOMAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def machine_name_problem(name: object) -> str | None:
    """Why `name` cannot be a machine name, or None if it can."""
    if not isinstance(name, str):
        return f"a machine name is text, not {type(name).__name__}"
    if name in RESERVED_NAMES:
        return f"{name!r} is a reserved name and cannot be a machine"
    if not MACHINE_NAME.fullmatch(name):
        return (f"invalid machine name {name!r}: use letters, digits, '-' and '_' "
                "(up to 64, starting and ending with a letter or digit)")
    return None


def domain_name_problem(name: object) -> str | None:
    """Why `name` cannot be a collision domain name, or None if it can."""
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name) or name in (".", ".."):
        return f"invalid collision domain name {name!r}: use letters, digits, '_', '.' and '-' (up to 64)"
    return None


def check_machine_name(name: object) -> str:
    problem = machine_name_problem(name)
    if problem:
        raise UserError(problem)
    return name  # type: ignore[return-value]


def check_domain_name(name: object) -> str:
    problem = domain_name_problem(name)
    if problem:
        raise UserError(problem)
    return name  # type: ignore[return-value]
