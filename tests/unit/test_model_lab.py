"""The Lab model on its own: lookups, paths, boot levels."""
from __future__ import annotations

from pathlib import Path

import pytest

from nk_jupyter.errors import UnknownMachineError
from nk_jupyter.model import Lab, Link, Machine


def lab_of(names: list[str], deps: dict[str, list[str]] | None = None) -> Lab:
    return Lab(name="t", directory=Path("/labs/t"),
               machines={n: Machine(n) for n in names}, dependencies=deps or {})


def test_machine_lookup() -> None:
    lab = lab_of(["a", "b"])
    assert lab.machine("a").name == "a"
    with pytest.raises(UnknownMachineError, match="no machine named 'zz'; this lab has: a, b"):
        lab.machine("zz")


def test_paths() -> None:
    lab = lab_of(["pc1"])
    assert lab.startup_path("pc1") == Path("/labs/t/pc1.startup")
    assert lab.shutdown_path("pc1") == Path("/labs/t/pc1.shutdown")
    assert lab.shared_startup == Path("/labs/t/shared.startup")
    assert lab.shared_shutdown == Path("/labs/t/shared.shutdown")
    with pytest.raises(UnknownMachineError):
        lab.startup_path("../etc/passwd")


def test_levels_without_deps_keep_boot_order() -> None:
    assert lab_of(["c", "a", "b"]).boot_levels() == [["c", "a", "b"]]
    assert lab_of([]).boot_levels() == []


def test_levels_diamond() -> None:
    lab = lab_of(["top", "left", "right", "base", "other"],
                 {"top": ["left", "right"], "left": ["base"], "right": ["base"]})
    assert lab.boot_levels() == [["base", "other"], ["left", "right"], ["top"]]
    assert lab.boot_levels(["left"]) == [["base"], ["left"]]
    assert lab.boot_levels(["other", "right"]) == [["base", "other"], ["right"]]


def test_level_is_longest_chain() -> None:
    lab = lab_of(["a", "b", "c", "d"], {"d": ["a", "c"], "c": ["b"], "b": ["a"]})
    assert lab.boot_levels() == [["a"], ["b"], ["c"], ["d"]]


def test_levels_unknown_selected() -> None:
    with pytest.raises(UnknownMachineError):
        lab_of(["a"]).boot_levels(["nope"])


def test_levels_cycle_in_hand_built_lab() -> None:
    with pytest.raises(ValueError, match="a -> b -> a"):
        lab_of(["a", "b"], {"a": ["b"], "b": ["a"]}).boot_levels()


def test_link_machines() -> None:
    assert Link("A", [("pc1", 0), ("r1", 0), ("pc1", 2)]).machines == ["pc1", "r1"]
    assert Machine.ifname(7) == "eth7"
