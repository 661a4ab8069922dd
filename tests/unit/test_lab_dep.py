"""lab.dep: rules, continuations, merging, unknown names and cycles."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from nk_jupyter.errors import LabConfError
from nk_jupyter.labconf import load_lab
from nk_jupyter.labconf.lab_dep import parse_lab_dep

MACHINES = ["a", "b", "c", "d"]


def test_fixture_dep_levels(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("dep_levels"))
    assert lab.has_dep_file
    assert lab.dependencies == {"pc1": ["dhcp", "router"], "pc2": ["router", "dns"], "router": ["dhcp"]}
    assert lab.boot_levels() == [["dhcp", "dns", "lone"], ["router"], ["pc1", "pc2"]]
    assert lab.boot_levels(["pc1"]) == [["dhcp"], ["router"], ["pc1"]]
    assert lab.boot_levels(["lone", "router"]) == [["dhcp", "lone"], ["router"]]


def test_cycle(fixture_lab: Callable[[str], Path]) -> None:
    lab = fixture_lab("dep_cycle")
    with pytest.raises(LabConfError) as info:
        load_lab(lab)
    err = info.value
    assert err.path == str(lab / "lab.dep") and err.line == 3
    assert "lab.dep:3:" in str(err) and "a -> b -> c -> a" in err.message


def test_unknown(fixture_lab: Callable[[str], Path]) -> None:
    lab = fixture_lab("dep_unknown")
    with pytest.raises(LabConfError) as info:
        load_lab(lab)
    assert info.value.path == str(lab / "lab.dep") and info.value.line == 3
    assert "lab.dep:3:" in str(info.value) and "'zz'" in info.value.message


def test_self_cycle() -> None:
    with pytest.raises(LabConfError, match=r"lab.dep:2: dependency cycle: b -> b"):
        parse_lab_dep("a: b\nb: b\n", Path("lab.dep"), MACHINES)


def test_merge_continuation_comments() -> None:
    text = "# header\n\na: b # why\na: c b\n  d : \\\n  a \\\n  b\nc:\n"
    assert parse_lab_dep(text, Path("lab.dep"), MACHINES) == {"a": ["b", "c"], "d": ["a", "b"], "c": []}


def test_multiple_targets() -> None:
    assert parse_lab_dep("a b: c\n", Path("lab.dep"), MACHINES) == {"a": ["c"], "b": ["c"]}


def test_unknown_after_continuation_names_first_line() -> None:
    with pytest.raises(LabConfError, match=r"lab.dep:3: unknown machine 'zz'"):
        parse_lab_dep("a: b\n\nc: a \\\n  zz\n", Path("lab.dep"), MACHINES)


@pytest.mark.parametrize("line", ["a b c", "a := b", ": b", "a: b: c", "X = 1"])
def test_unparsable(line: str) -> None:
    with pytest.raises(LabConfError, match=r"lab.dep:2: cannot parse"):
        parse_lab_dep(f"a: b\n{line}\n", Path("lab.dep"), MACHINES)


def test_crlf(make_lab: Callable[..., Path]) -> None:
    lab = make_lab({"lab.conf": "a[0]=A\nb[0]=A\n", "lab.dep": b"a: b\r\n"})
    with pytest.raises(LabConfError, match=r"lab.dep:1: Windows \(CRLF\)"):
        load_lab(lab)


def test_empty_dep_file(make_lab: Callable[..., Path]) -> None:
    lab = load_lab(make_lab({"lab.conf": "a[0]=A\n", "lab.dep": ""}))
    assert lab.has_dep_file and lab.dependencies == {}
