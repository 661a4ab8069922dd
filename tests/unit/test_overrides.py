"""`-o KEY=VALUE` overrides applied to every machine."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from nk_jupyter.errors import UserError
from nk_jupyter.labconf import load_lab, parse_overrides


def test_overrides_replace_and_append(make_lab: Callable[..., Path]) -> None:
    root = make_lab({"lab.conf": "a[0]=A\na[mem]=32\na[exec]=echo lab\na[sysctl]=net.ipv4.ip_forward=1\n"
                                 "b[0]=A\nb[image]=kathara/base\n"})
    lab = load_lab(root, ["mem=64m", "image=kathara/frr", "exec=echo o", "sysctl=net.ipv4.ip_forward=0",
                          "env=X=1", "cpus=2", "num_terms=0", "ipv6=no", "shell=/bin/sh"])
    for name in ("a", "b"):
        o = lab.machine(name).options
        assert (o.mem, o.image, o.cpus, o.num_terms, o.ipv6, o.shell) == ("64m", "kathara/frr", 2.0, 0, False, "/bin/sh")
        assert o.env == {"X": "1"} and o.unsupported == []
    a = lab.machine("a").options
    assert a.exec_commands == ["echo lab", "echo o"]
    assert a.sysctls == {"net.ipv4.ip_forward": "0"}
    assert lab.machine("b").options.exec_commands == ["echo o"]


def test_parse_overrides() -> None:
    parsed = parse_overrides(["mem=64m", "exec=a=b"])
    assert [(o.key, o.value, o.arg) for o in parsed] == [("mem", "64m", "mem=64m"), ("exec", "a=b", "exec=a=b")]
    assert parse_overrides("mem=1g")[0].value == "1g"
    assert parse_overrides(()) == []


@pytest.mark.parametrize("arg, fragment", [
    ("mem", "expected KEY=VALUE"),
    ("mem=lots", "memory"),
    ("port=80", "cannot be set with -o"),
    ("con0=this", "cannot be set with -o"),
    ("sysctl=kernel.panic=1", "only net.*"),
    ("ipv6=perhaps", "true/false"),
])
def test_bad_override_names_argument(arg: str, fragment: str) -> None:
    with pytest.raises(UserError) as info:
        parse_overrides(["mem=64", arg])
    assert str(info.value).startswith(f"-o {arg!r}: ") and fragment in str(info.value)


def test_bad_override_fails_before_reading_lab(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="-o 'bogus=1'"):
        load_lab(tmp_path / "missing", ["bogus=1"])
