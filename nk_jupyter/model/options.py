"""Per-machine options (`pc1[mem]=64`): one table from option name to its parser.

Each entry knows how to validate a value and store it in MachineOptions, whether it may
repeat (exec, sysctl, env, port append) and whether the engine supports it yet. The caller
(labconf) adds the file and line to OptionValueError, and applies Netkit's rule that for a
non-repeatable option the first assignment wins.
"""
from __future__ import annotations

import math
import re
from typing import Callable

from nk_jupyter.model.machine import MachineOptions


class OptionValueError(ValueError):
    """A bad option value; the message says what is wrong and what is expected."""


Apply = Callable[[MachineOptions, str, str], None]

_MEM = re.compile(r"([0-9]+)([bkmgBKMG]?)")
_SYSCTL = re.compile(r"([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_/-]+)+)=(.*)", re.S)
_ENV = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
_TRUE, _FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def parse_mem(value: str) -> str:
    """`64` (megabytes, as in Netkit) or `<n>b|k|m|g` -> "<n><unit>"."""
    m = _MEM.fullmatch(value.strip())
    if not m or int(m.group(1)) == 0:
        raise OptionValueError(f"memory must be a positive number with an optional b/k/m/g unit, not {value!r}")
    return f"{int(m.group(1))}{(m.group(2) or 'm').lower()}"


def parse_cpus(value: str) -> float:
    try:
        cpus = float(value)
    except ValueError:
        cpus = math.nan
    if not math.isfinite(cpus) or cpus <= 0:
        raise OptionValueError(f"cpus must be a number greater than 0, not {value!r}")
    return cpus


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise OptionValueError(f"expected true/false/yes/no/1/0, not {value!r}")


def parse_count(value: str) -> int:
    if not re.fullmatch(r"[0-9]+", value.strip()):
        raise OptionValueError(f"expected a whole number >= 0, not {value!r}")
    return int(value)


def parse_pids(value: str) -> int:
    n = parse_count(value)
    if not 8 <= n <= 1 << 22:
        raise OptionValueError(f"pids must be a whole number from 8 to {1 << 22}, not {value!r}")
    return n


def parse_text(value: str) -> str:
    if not value.strip():
        raise OptionValueError("a value is required")
    return value.strip()


def parse_image(value: str) -> str:
    from .images import ImageNameError, canonical
    try:
        canonical(value)
    except ImageNameError as e:
        raise OptionValueError(str(e)) from None
    return value.strip()


def parse_sysctl(value: str) -> tuple[str, str]:
    """`net.ipv4.ip_forward=1` -> (key, value); only the net.* namespace is per-machine."""
    m = _SYSCTL.fullmatch(value.strip())
    if not m or not m.group(2).strip():
        raise OptionValueError(f"expected net.KEY=VALUE, not {value!r}")
    if not m.group(1).startswith("net."):
        raise OptionValueError(f"only net.* sysctls can be set per machine, not {m.group(1)!r}")
    if "\0" in value:
        raise OptionValueError("a sysctl value cannot hold a NUL character")
    return m.group(1), m.group(2).strip()


def parse_env(value: str) -> tuple[str, str]:
    m = _ENV.fullmatch(value.strip())
    if not m:
        raise OptionValueError(f"expected NAME=VALUE, not {value!r}")
    return m.group(1), m.group(2)


def parse_port(value: str):
    """`[HOSTIP:]HOSTPORT:GUESTPORT[/tcp]`, or Kathara's `GUEST` (host 3000) -> PortSpec."""
    from .uplinks import PortSpec, SpecError
    try:
        return PortSpec.parse(value)
    except SpecError as e:
        raise OptionValueError(str(e)) from None


def parse_shape(value: str):
    from .shaping import ShapeError, parse_option
    try:
        return parse_option(value)
    except ShapeError as e:
        raise OptionValueError(str(e)) from None


def _set(attr: str, parse: Callable[[str], object]) -> Apply:
    def apply(opts: MachineOptions, name: str, value: str) -> None:
        setattr(opts, attr, parse(value))
    return apply


def _append(attr: str, parse: Callable[[str], object]) -> Apply:
    def apply(opts: MachineOptions, name: str, value: str) -> None:
        getattr(opts, attr).append(parse(value))
    return apply


def _put(attr: str, parse: Callable[[str], tuple[str, str]]) -> Apply:
    def apply(opts: MachineOptions, name: str, value: str) -> None:
        key, val = parse(value)
        getattr(opts, attr)[key] = val
    return apply


def _other(opts: MachineOptions, name: str, value: str) -> None:
    opts.other[name] = value


class OptionSpec:
    """How one option is stored. `canonical` groups aliases (M is mem) for repeat checks.
    (A plain class: the table below is built at import, when no record class need be made.)"""
    __slots__ = ("apply", "repeatable", "canonical", "unsupported")

    def __init__(self, apply: Apply, repeatable: bool = False, canonical: str | None = None,
                 unsupported: bool = False) -> None:
        self.apply, self.repeatable, self.canonical, self.unsupported = apply, repeatable, canonical, unsupported


# Netkit vstart options a lab may carry; kept verbatim in MachineOptions.other, no warning.
NETKIT_OPTIONS = ("con0", "con1", "append", "kernel", "k", "model-fs", "m", "filesystem", "f",
                  "D", "W", "no-cow", "hostlab", "l", "hosthome", "H", "hostwd", "w", "xterm",
                  "print", "p", "test", "F", "foreground", "tmux-attached", "tmux-detached")
# Kathara options the engine does not implement: kept in other and listed as unsupported.
KATHARA_UNSUPPORTED = ("ulimit", "privileged", "entrypoint", "args", "volume")

TABLE: dict[str, OptionSpec] = {
    "mem": OptionSpec(_set("mem", parse_mem)),
    "M": OptionSpec(_set("mem", parse_mem), canonical="mem"),
    "cpus": OptionSpec(_set("cpus", parse_cpus)),
    "image": OptionSpec(_set("image", parse_image)),
    "exec": OptionSpec(_append("exec_commands", parse_text), repeatable=True),
    "sysctl": OptionSpec(_put("sysctls", parse_sysctl), repeatable=True),
    "env": OptionSpec(_put("env", parse_env), repeatable=True),
    "shell": OptionSpec(_set("shell", parse_text)),
    "ipv6": OptionSpec(_set("ipv6", parse_bool)),
    "bridged": OptionSpec(_set("bridged", parse_bool)),
    "port": OptionSpec(_append("ports", parse_port), repeatable=True),
    "shape": OptionSpec(_put("shapes", parse_shape), repeatable=True),
    "num_terms": OptionSpec(_set("num_terms", parse_count)),
    "pids": OptionSpec(_set("pids", parse_pids)),
    **{name: OptionSpec(_other) for name in NETKIT_OPTIONS},
    **{name: OptionSpec(_other, unsupported=True) for name in KATHARA_UNSUPPORTED},
}
UNKNOWN = OptionSpec(_other)

# What `-o KEY=VALUE` may set on every machine (Kathara lstart -o): these replace ...
OVERRIDE_REPLACES = ("image", "mem", "cpus", "num_terms", "ipv6", "shell", "pids")
# ... and these add to what lab.conf gave.
OVERRIDE_APPENDS = ("exec", "sysctl", "env")


def spec_for(name: str) -> OptionSpec:
    """The table entry for `name`; unknown names are stored verbatim in `other`."""
    return TABLE.get(name, UNKNOWN)


def canonical_name(name: str) -> str:
    """The name repeats are tracked under (`M` and `mem` are the same option)."""
    return spec_for(name).canonical or name


def apply_option(opts: MachineOptions, name: str, value: str) -> None:
    """Validate `value` and store it in `opts`; OptionValueError if it is bad."""
    spec = spec_for(name)
    spec.apply(opts, name, value)
    if spec.unsupported and canonical_name(name) not in opts.unsupported:
        opts.unsupported.append(canonical_name(name))
