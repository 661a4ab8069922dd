"""`-o KEY=VALUE` options applied to every machine (Kathara `lstart -o "mem=64m"`).

image, mem, cpus, num_terms, ipv6 and shell replace what lab.conf says; exec, sysctl and
env add to it. A bad one is a UserError naming the `-o` argument.
"""
from __future__ import annotations

from ..records import dataclass
from typing import Iterable

from nk_jupyter.errors import UserError
from nk_jupyter.model.machine import Machine, MachineOptions
from nk_jupyter.model.options import OVERRIDE_APPENDS, OVERRIDE_REPLACES, OptionValueError, apply_option


@dataclass(frozen=True)
class Override:
    """One checked `-o` argument: key, value and the argument as given."""

    key: str
    value: str
    arg: str


def parse_overrides(opts: Iterable[str] | str) -> list[Override]:
    """Check each `KEY=VALUE`; UserError naming the first bad `-o` argument."""
    if isinstance(opts, str):
        opts = [opts]
    allowed = OVERRIDE_REPLACES + OVERRIDE_APPENDS
    checked = []
    for arg in opts:
        key, sep, value = arg.partition("=")
        key = key.strip()
        if not sep:
            raise UserError(f"-o {arg!r}: expected KEY=VALUE, e.g. -o mem=64m")
        if key not in allowed:
            raise UserError(f"-o {arg!r}: {key!r} cannot be set with -o; use one of {', '.join(allowed)}")
        try:
            apply_option(MachineOptions(), key, value)
        except OptionValueError as err:
            raise UserError(f"-o {arg!r}: {err}") from None
        checked.append(Override(key, value, arg))
    return checked


def apply_overrides(machines: Iterable[Machine], overrides: list[Override]) -> None:
    """Apply checked overrides to every machine, in order."""
    for machine in machines:
        for override in overrides:
            apply_option(machine.options, override.key, override.value)
