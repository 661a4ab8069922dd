"""Lab folders (lab.conf, lab.dep, machine folders) -> model.Lab.

load_lab is the only entry point; every error is a LabConfError naming the file and line,
or a UserError naming the bad `-o` argument.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from nk_jupyter.errors import LabConfError
from nk_jupyter.labconf.folder import find_machines
from nk_jupyter.labconf.lab_conf import LabConf, parse_lab_conf
from nk_jupyter.labconf.lab_dep import parse_lab_dep
from nk_jupyter.labconf.compat import bash_as_sh
from nk_jupyter.labconf.files import check_machine_folders, read_text
from nk_jupyter.labconf.overrides import Override, apply_overrides, parse_overrides
from nk_jupyter.model import Lab, Link, Machine, MachineOptions

MAX_DOMAIN_PORTS = 1023  # BR_MAX_PORTS less port number 0, which a bridge keeps

__all__ = ["load_lab", "parse_overrides", "Override"]


def load_lab(path: str | Path, overrides: Iterable[str] = (), *, force: bool = False) -> Lab:
    """Read the lab folder at `path`.

    overrides are `-o KEY=VALUE` strings applied to every machine. force makes a folder
    with neither lab.conf nor lab.dep a lab of its sub-folders (Netkit `lstart -F`).
    """
    directory = Path(path)
    checked = parse_overrides(overrides)
    if not directory.is_dir():
        raise LabConfError(directory, None, "no such lab folder")
    conf_text = read_text(directory, "lab.conf")
    conf = parse_lab_conf(conf_text, directory / "lab.conf") if conf_text is not None else None
    dep_text = read_text(directory, "lab.dep")
    found = find_machines(directory, conf, dep_text is not None, force)
    folders = [directory / "shared"] * (directory / "shared").is_dir() + [f for f in found.folders.values() if f]
    check_machine_folders(directory, folders)
    sh_is_bash = bash_as_sh(directory, folders) or ""
    root = directory.resolve()
    machines = {name: _machine(name, conf, root / name if found.folders[name] else None)
                for name in found.names}
    apply_overrides(machines.values(), checked)
    links = _links(machines)
    for link in links.values():
        if len(link.attachments) > MAX_DOMAIN_PORTS:
            raise LabConfError(directory / "lab.conf", None,
                               f"collision domain {link.name!r} has {len(link.attachments)} interfaces; a domain holds "
                               f"at most {MAX_DOMAIN_PORTS} (the limit of a Linux bridge): split it")
    deps = parse_lab_dep(dep_text, directory / "lab.dep", found.names) if dep_text is not None else {}
    metadata = dict(conf.metadata) if conf else {}
    return Lab(
        name=metadata.get("LAB_NAME") or root.name,
        directory=root,
        machines=machines,
        links=links,
        metadata=metadata,
        dependencies=deps,
        has_dep_file=dep_text is not None,
        warnings=(conf.warnings if conf else []) + found.warnings
        + ([f"{sh_is_bash} in a #!/bin/sh script: /bin/sh is bash in this lab's machines (as in Netkit)"]
           if sh_is_bash else []),
        ignored_folders=found.ignored,
        sh_is_bash=sh_is_bash,
    )


def _machine(name: str, conf: LabConf | None, folder: Path | None) -> Machine:
    interfaces = conf.interfaces.get(name, {}) if conf else {}
    options = conf.options.get(name) if conf else None
    return Machine(name, dict(sorted(interfaces.items())), options or MachineOptions(), folder)


def _links(machines: dict[str, Machine]) -> dict[str, Link]:
    links: dict[str, Link] = {}
    for machine in machines.values():
        for number, iface in machine.interfaces.items():
            links.setdefault(iface.link, Link(iface.link)).attachments.append((machine.name, number))
    return links
