"""The lab's structure against a reference lab.conf (kathara-lab-checker's `structure`
file or `lab_inline` text): every device exists, each interface is in the expected
collision domain; and `requiring_startup` devices have a MACHINE.startup.
These read the lab folder; nothing runs in the machines.
"""
from __future__ import annotations

from pathlib import Path

from ...api import Lab
from ...labconf.lab_conf import parse_lab_conf
from .base import CheckResult

FAMILY = "structure"


def template_interfaces(text: str, path: Path) -> dict[str, dict[int, str]]:
    """{device: {n: domain}} of a reference lab.conf (LabConfError if malformed)."""
    conf = parse_lab_conf(text, path)
    return {name: {n: i.link for n, i in ifaces.items()} for name, ifaces in conf.interfaces.items()}


def devices_exist(lab: Lab, template: dict[str, dict[int, str]]) -> list[CheckResult]:
    have = lab.model.machines
    return [CheckResult(FAMILY, name, f"device {name} exists", name in have,
                        "OK" if name in have else f"the lab has no device {name}") for name in template]


def collision_domains(lab: Lab, template: dict[str, dict[int, str]]) -> list[CheckResult]:
    out = []
    for name, ifaces in template.items():
        machine = lab.model.machines.get(name)
        for n, domain in sorted(ifaces.items()):
            desc = f"{name} eth{n} is in collision domain {domain}"
            if machine is None:
                out.append(CheckResult(FAMILY, name, desc, False, f"the lab has no device {name}"))
                continue
            got = machine.interfaces.get(n)
            ok = got is not None and got.link == domain
            out.append(CheckResult(FAMILY, name, desc, ok, "OK" if ok else
                                   f"{name} eth{n} is {'in ' + got.link if got else 'missing'}"))
    return out


def startup_exists(lab: Lab, device: str) -> CheckResult:
    path = lab.directory / f"{device}.startup"
    ok = path.is_file() and not path.is_symlink()
    return CheckResult(FAMILY, device, f"{device}.startup exists", ok, "OK" if ok else f"no {path.name} in the lab")
