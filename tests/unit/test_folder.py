"""Which machines a lab has: lab.conf, machines=, sub-folders, symlinks."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from nk_jupyter.errors import LabConfError
from nk_jupyter.labconf import load_lab


def test_ignored_folders(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("ignored_folders"))
    assert list(lab.machines) == ["pc1"]
    assert lab.ignored_folders == ["old", "pc2"]
    assert "ignored folders not named in lab.conf: old, pc2" in lab.warnings


def test_no_labconf_uses_folders(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("no_labconf_folders"))
    assert list(lab.machines) == ["a", "b"]
    assert lab.has_dep_file and lab.links == {}
    assert lab.ignored_folders == []
    assert any("bad.name" in w and "invalid machine name" in w for w in lab.warnings)


def test_labconf_naming_nothing_uses_folders(make_lab: Callable[..., Path]) -> None:
    lab = load_lab(make_lab({"lab.conf": "LAB_DESCRIPTION=x\n", "z": None, "m": None}))
    assert list(lab.machines) == ["m", "z"]


def test_neither_file_needs_force(make_lab: Callable[..., Path]) -> None:
    root = make_lab({"pc2": None, "pc1": None})
    with pytest.raises(LabConfError, match="does not look like a lab: no lab.conf"):
        load_lab(root)
    assert list(load_lab(root, force=True).machines) == ["pc1", "pc2"]


def test_empty_folder_is_not_a_lab(make_lab: Callable[..., Path]) -> None:
    root = make_lab({"shared": None, "notes.txt": "x"})
    for force in (False, True):
        with pytest.raises(LabConfError) as info:
            load_lab(root, force=force)
        assert str(info.value).startswith(f"{root}: does not look like a lab: no lab.conf")


def test_labconf_without_machines_or_folders(make_lab: Callable[..., Path]) -> None:
    root = make_lab({"lab.conf": "# nothing\n"})
    with pytest.raises(LabConfError, match="lab.conf: names no machines"):
        load_lab(root)


def test_missing_lab_folder(tmp_path: Path) -> None:
    with pytest.raises(LabConfError, match="no such lab folder"):
        load_lab(tmp_path / "nope")


def test_symlinked_machine_folder_refused(make_lab: Callable[..., Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1": None})
    os.symlink(outside, root / "pc2")
    with pytest.raises(LabConfError) as info:
        load_lab(root)
    assert info.value.path == str(root / "pc2") and "symlink" in info.value.message


def test_symlinked_folder_refused_without_labconf(make_lab: Callable[..., Path], tmp_path: Path) -> None:
    root = make_lab({"lab.dep": "", "pc1": None})
    os.symlink(tmp_path, root / "pc2")
    with pytest.raises(LabConfError, match="symlink"):
        load_lab(root)


def test_symlinked_shared_refused(make_lab: Callable[..., Path], tmp_path: Path) -> None:
    root = make_lab({"lab.conf": "pc1[0]=A\n"})
    os.symlink(tmp_path, root / "shared")
    with pytest.raises(LabConfError) as info:
        load_lab(root)
    assert info.value.path == str(root / "shared")


def test_unnamed_symlink_is_only_ignored(make_lab: Callable[..., Path], tmp_path: Path) -> None:
    root = make_lab({"lab.conf": "pc1[0]=A\n"})
    os.symlink(tmp_path, root / "other")
    assert load_lab(root).ignored_folders == ["other"]


def test_machine_path_that_is_a_file(make_lab: Callable[..., Path]) -> None:
    lab = load_lab(make_lab({"lab.conf": "pc1[0]=A\n", "pc1": "not a folder"}))
    assert lab.machine("pc1").folder is None
    assert any("not a folder" in w for w in lab.warnings)


def test_folder_names_differing_by_case(make_lab: Callable[..., Path]) -> None:
    with pytest.raises(LabConfError, match="differ only by case"):
        load_lab(make_lab({"lab.dep": "", "PC1": None, "pc1": None}))


def test_lab_conf_that_is_a_folder(make_lab: Callable[..., Path]) -> None:
    root = make_lab({"lab.conf": None, "pc1": None})
    with pytest.raises(LabConfError, match="lab.conf: is not a regular file"):
        load_lab(root)
