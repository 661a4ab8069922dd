"""lab.conf (Netkit and Kathara dialects) -> LabConf, with file:line on every error.

Lines, after stripping blanks; blank lines and `#` comments are skipped:
- `MACHINE[N]=DOMAIN` or `MACHINE[N]=DOMAIN/MAC`: interface ethN on collision domain DOMAIN;
- `MACHINE[option]=value`: a per-machine option (model.options.TABLE);
- `LAB_DESCRIPTION=`, `LAB_VERSION=`, `LAB_AUTHOR=`, `LAB_EMAIL=`, `LAB_WEB=`, `LAB_NAME=`;
- `machines="a b c"` (Netkit) or `LAB_MACHINES=a,b,c` (Netkit-JH): the machine list.
Values may be wrapped in one pair of matching quotes; ` # comment` may follow.
Anything else is an error, never silently skipped.
"""
from __future__ import annotations

import re
from ..records import dataclass, field
from pathlib import Path

from nk_jupyter.errors import LabConfError
from nk_jupyter.labconf.lines import (DOMAIN_NAME, MAC_ADDRESS, Unparsable, check_machine_name,
                                      content_lines, split_value)
from nk_jupyter.model.lab import METADATA_KEYS
from nk_jupyter.model.machine import Interface, MachineOptions
from nk_jupyter.model.options import (TABLE, OptionValueError, apply_option, canonical_name,
                                      spec_for)

_MACHINE_LINE = re.compile(r"(?P<name>[^\s\[\]=]+)\[(?P<opt>[^\]]*)\]\s*=\s*(?P<rest>.*)", re.S)
_VARIABLE_LINE = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<rest>.*)", re.S)
MAX_INTERFACE = 9999  # keeps "ethN" well inside the kernel's 15-character limit
_OPTION_NAME = re.compile(r"[A-Za-z0-9_-]+")
_LIST_VARIABLES = ("machines", "LAB_MACHINES")
_GLUED_VARIABLE = re.compile(r"(%s)\s*=" % "|".join(METADATA_KEYS + _LIST_VARIABLES))


@dataclass
class LabConf:
    """What lab.conf says. `named` maps each machine it configures to its first line."""

    path: Path
    metadata: dict[str, str] = field(default_factory=dict)
    machine_list: list[str] | None = None
    machine_list_line: int | None = None
    named: dict[str, int] = field(default_factory=dict)
    interfaces: dict[str, dict[int, Interface]] = field(default_factory=dict)
    options: dict[str, MachineOptions] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_lab_conf(text: str, path: Path) -> LabConf:
    """Parse the text of lab.conf; `path` is only used in messages."""
    parser = _Parser(LabConf(path))
    for number, line in content_lines(text):
        parser.line(number, line)
    return parser.conf


class _Parser:
    def __init__(self, conf: LabConf) -> None:
        self.conf = conf
        self.variable_lines: dict[str, int] = {}
        self.option_lines: dict[tuple[str, str], int] = {}
        self.by_lower: dict[str, str] = {}

    def error(self, line: int, message: str) -> LabConfError:
        return LabConfError(self.conf.path, line, message)

    def warn(self, line: int, message: str) -> None:
        self.conf.warnings.append(f"{self.conf.path}:{line}: {message}")

    def line(self, number: int, text: str) -> None:
        try:
            m = _MACHINE_LINE.fullmatch(text)
            if m:
                self.machine_line(number, m["name"], m["opt"], split_value(m["rest"]))
                return
            m = _VARIABLE_LINE.fullmatch(text)
            if not m:
                raise Unparsable()
            if m["rest"][:1] not in ("'", '"') and _GLUED_VARIABLE.search(m["rest"]):
                raise Unparsable("two assignments on one line?")
            self.variable(number, m["name"], split_value(m["rest"]))
        except Unparsable as err:
            hint = f" ({err.hint})" if err.hint else ""
            raise self.error(number, f"cannot parse: {text}{hint}") from None

    def machine(self, number: int, name: str) -> None:
        """Check a machine name and the case rule; remember where it first appears."""
        check_machine_name(name, self.conf.path, number)
        other = self.by_lower.setdefault(name.lower(), name)
        if other != name:
            raise self.error(number, f"machine names {other!r} and {name!r} differ only by case")

    def machine_line(self, number: int, name: str, opt: str, value: str) -> None:
        self.machine(number, name)
        self.conf.named.setdefault(name, number)
        if re.fullmatch(r"[0-9]+", opt):
            self.interface(number, name, int(opt), value)
        elif re.fullmatch(r"eth[0-9]+", opt):
            raise self.error(number, f"unknown interface syntax {opt!r}: write {name}[{opt[3:]}]={value}")
        elif _OPTION_NAME.fullmatch(opt):
            self.option(number, name, opt, value)
        else:
            raise Unparsable(f"bad option name {opt!r}")

    def interface(self, number: int, machine: str, n: int, value: str) -> None:
        if n > MAX_INTERFACE:
            raise self.error(number, f"interface number {n} is too large (at most {MAX_INTERFACE})")
        ifaces = self.conf.interfaces.setdefault(machine, {})
        if value.count(",") == 2:  # Netkit's tap,TAP_ADDR,GUEST_ADDR (Netkit-JH: DOMAIN,TAP,GUEST)
            from ..model.uplinks import SpecError, TapSpec
            try:
                tap = TapSpec.parse(n, value)
            except SpecError as e:
                raise self.error(number, f"{machine}[{n}]: {e}") from None
            taps = self.conf.options.setdefault(machine, MachineOptions()).taps
            if n in ifaces or n in taps:
                raise self.error(number, f"{machine} eth{n} is already set")
            taps[n] = tap
            return
        domain, mac = self.domain_and_mac(number, value)
        if n in ifaces or n in self.conf.options.get(machine, MachineOptions()).taps:
            where = repr(ifaces[n].link) if n in ifaces else "a tap"
            raise self.error(number, f"{machine} eth{n} is already attached to {where}")
        for iface in ifaces.values():
            if iface.link == domain:
                raise self.error(number, f"{machine} is attached to {domain!r} twice (eth{iface.number} and eth{n})")
        ifaces[n] = Interface(n, domain, mac)

    def domain_and_mac(self, number: int, value: str) -> tuple[str, str | None]:
        if not value:
            raise self.error(number, "missing collision domain name after '='")
        if any(c.isspace() for c in value):
            raise self.error(number, f"a collision domain name cannot contain spaces: {value!r}")
        domain, slash, mac = value.partition("/")
        if slash:
            if not MAC_ADDRESS.fullmatch(mac):
                raise self.error(number, f"invalid MAC address {mac!r}: expected xx:xx:xx:xx:xx:xx")
            if int(mac[:2], 16) & 1:
                raise self.error(number, f"invalid MAC address {mac!r}: it is a multicast address")
        if not DOMAIN_NAME.fullmatch(domain) or set(domain) == {"."}:
            raise self.error(number, f"invalid collision domain name {domain!r}: use letters, digits, "
                                     "'_', '.' and '-' (up to 64)")
        return domain, (mac.lower() if slash else None)

    def option(self, number: int, machine: str, opt: str, value: str) -> None:
        opts = self.conf.options.setdefault(machine, MachineOptions())
        key = (machine, canonical_name(opt))
        first = self.option_lines.get(key)
        repeat = first is not None and not spec_for(opt).repeatable
        try:
            apply_option(MachineOptions() if repeat else opts, opt, value)
        except OptionValueError as err:
            raise self.error(number, f"{machine}[{opt}]: {err}") from None
        if repeat:
            self.warn(number, f"{machine}[{opt}] was already set at line {first}; the first value is kept")
            return
        self.option_lines.setdefault(key, number)
        if opt not in TABLE:
            self.warn(number, f"unknown option {machine}[{opt}]: kept, but nk does not use it")

    def variable(self, number: int, name: str, value: str) -> None:
        key = "machines" if name in _LIST_VARIABLES else name
        if key != "machines" and key not in METADATA_KEYS:
            known = ", ".join(METADATA_KEYS + _LIST_VARIABLES)
            raise self.error(number, f"unknown variable {name!r} (lab.conf knows {known})")
        first = self.variable_lines.get(key)
        if first is not None:
            self.warn(number, f"{name} was already set at line {first}; the first value is kept")
            return
        self.variable_lines[key] = number
        if key in METADATA_KEYS:
            self.conf.metadata[key] = value
        else:
            self.machine_list(number, name, value)

    def machine_list(self, number: int, name: str, value: str) -> None:
        names = value.split() if name == "machines" else [n.strip() for n in value.split(",") if n.strip()]
        if not names:
            self.warn(number, f"{name} is empty: ignored")
            return
        unique = list(dict.fromkeys(names))
        if len(unique) != len(names):
            self.warn(number, f"{name} lists a machine twice: the repeats are ignored")
        for machine in unique:
            self.machine(number, machine)
        self.conf.machine_list, self.conf.machine_list_line = unique, number
