"""Which machines a lab has, and their folders.

- lab.conf names machines (interface/option lines, machines=, LAB_MACHINES=): those are the
  machines, in the order of the machines= list if given, else of first appearance. Other
  sub-folders are reported as ignored.
- Otherwise (lab.conf names none, or only lab.dep exists, or neither with force): every
  sub-folder, sorted, except shared, _test, CVS and hidden ones.
Symlinked machine folders (and a symlinked shared/) are refused: a lab may be untrusted.
"""
from __future__ import annotations

import os
from ..records import dataclass, field
from pathlib import Path

from nk_jupyter.errors import LabConfError
from nk_jupyter.labconf.lab_conf import LabConf
from nk_jupyter.labconf.lines import RESERVED_NAMES, machine_name_problem


@dataclass
class Membership:
    """The machines (in boot-list order) with their folders, and what was left out."""

    names: list[str] = field(default_factory=list)
    folders: dict[str, Path | None] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _subfolders(directory: Path) -> list[str]:
    """Names of sub-folders (symlinks to folders included) that could be machines."""
    with os.scandir(directory) as entries:
        return sorted(e.name for e in entries
                      if e.is_dir() and not e.name.startswith(".") and e.name not in RESERVED_NAMES)


def find_machines(directory: Path, conf: LabConf | None, has_dep: bool, force: bool = False) -> Membership:
    """Decide the lab's machines; LabConfError if the folder is not a usable lab."""
    refuse_symlink(directory / "shared")
    folders = _subfolders(directory)
    found = Membership()
    if conf is not None and (conf.machine_list or conf.named):
        found.names = list(conf.machine_list or conf.named)
        for name, line in conf.named.items():
            if name not in found.names:
                found.warnings.append(f"{conf.path}:{line}: {name} is configured but not listed in "
                                      f"machines= (line {conf.machine_list_line}): ignored")
        found.ignored = [f for f in folders if f not in found.names]
        if found.ignored:
            found.warnings.append(f"ignored folders not named in lab.conf: {', '.join(found.ignored)}")
    else:
        _check_looks_like_lab(directory, conf, has_dep, force, folders)
        for name in folders:
            problem = machine_name_problem(name)
            if problem:
                found.warnings.append(f"{directory / name}: folder ignored: {problem}")
            else:
                found.names.append(name)
        _check_case(directory, found.names)
    for name in found.names:
        found.folders[name] = _machine_folder(directory / name, found.warnings)
    return found


def _check_looks_like_lab(directory: Path, conf: LabConf | None, has_dep: bool, force: bool,
                          folders: list[str]) -> None:
    if not folders and conf is not None:
        raise LabConfError(conf.path, None, "names no machines and there are no machine folders")
    if not folders:
        raise LabConfError(directory, None, "does not look like a lab: no lab.conf and no machine folders")
    if conf is None and not has_dep and not force:
        raise LabConfError(directory, None, "does not look like a lab: no lab.conf or lab.dep "
                                            "(force it to make every sub-folder a machine)")


def _check_case(directory: Path, names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise LabConfError(directory, None, f"machine folders {other!r} and {name!r} differ only by case")


def refuse_symlink(path: Path) -> None:
    if path.is_symlink():
        raise LabConfError(path, None, "is a symlink; symlinked machine and shared folders are refused "
                                       "(a lab may be untrusted): copy the folder instead")


def _machine_folder(path: Path, warnings: list[str]) -> Path | None:
    refuse_symlink(path)
    if path.is_dir():
        return path
    if path.exists() or path.is_symlink():
        warnings.append(f"{path}: not a folder; the machine gets no files from it")
    return None
