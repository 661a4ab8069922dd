"""The per-machine option table."""
from __future__ import annotations

import pytest

from nk_jupyter.model import MachineOptions
from nk_jupyter.model.options import (TABLE, OptionValueError, apply_option, canonical_name,
                                      parse_mem, parse_port, spec_for)


def opts_with(*pairs: tuple[str, str]) -> MachineOptions:
    opts = MachineOptions()
    for name, value in pairs:
        apply_option(opts, name, value)
    return opts


def test_table_is_a_dict_of_specs() -> None:
    assert isinstance(TABLE, dict)
    for name in ("mem", "M", "cpus", "image", "exec", "sysctl", "env", "shell", "ipv6",
                 "bridged", "port", "num_terms", "con0", "con1", "append", "kernel", "model-fs", "D"):
        assert name in TABLE


@pytest.mark.parametrize("value, expected", [
    ("64", "64m"), ("64m", "64m"), ("64M", "64m"), ("1g", "1g"), ("512k", "512k"),
    ("4096b", "4096b"), (" 32 ", "32m"),
])
def test_mem(value: str, expected: str) -> None:
    assert parse_mem(value) == expected


@pytest.mark.parametrize("value", ["", "0", "-1", "64mb", "1.5g", "lots", "64 m"])
def test_bad_mem(value: str) -> None:
    with pytest.raises(OptionValueError):
        parse_mem(value)


def test_M_is_mem_alias() -> None:
    assert opts_with(("M", "128")).mem == "128m"
    assert canonical_name("M") == "mem"


def test_cpus() -> None:
    assert opts_with(("cpus", "0.5")).cpus == 0.5
    for bad in ("0", "-1", "nan", "inf", "two", ""):
        with pytest.raises(OptionValueError):
            opts_with(("cpus", bad))


@pytest.mark.parametrize("value, expected", [
    ("true", True), ("yes", True), ("1", True), ("TRUE", True),
    ("false", False), ("no", False), ("0", False), ("No", False),
])
def test_bools(value: str, expected: bool) -> None:
    assert opts_with(("ipv6", value)).ipv6 is expected
    assert opts_with(("bridged", value)).bridged is expected


def test_bad_bool() -> None:
    with pytest.raises(OptionValueError, match="true/false"):
        opts_with(("ipv6", "maybe"))


def test_repeatables_accumulate() -> None:
    opts = opts_with(("exec", "echo 1"), ("exec", "echo 2"),
                     ("sysctl", "net.ipv4.ip_forward=1"), ("sysctl", "net.ipv4.conf.all.rp_filter=0"),
                     ("env", "A=1"), ("env", "B=x=y"), ("port", "22"), ("port", "8080:80/udp"))
    assert opts.exec_commands == ["echo 1", "echo 2"]
    assert opts.sysctls == {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0"}
    assert opts.env == {"A": "1", "B": "x=y"}
    assert [str(p) for p in opts.ports] == ["127.0.0.1:3000:22/tcp", "127.0.0.1:8080:80/udp"]
    assert spec_for("exec").repeatable and not spec_for("mem").repeatable


@pytest.mark.parametrize("value", ["kernel.panic=1", "vm.swappiness=10", "fs.file-max=1"])
def test_sysctl_only_net(value: str) -> None:
    with pytest.raises(OptionValueError, match="only net"):
        opts_with(("sysctl", value))


@pytest.mark.parametrize("value", ["net.ipv4.ip_forward", "net.ipv4.ip_forward=", "=1", "ip_forward=1"])
def test_sysctl_malformed(value: str) -> None:
    with pytest.raises(OptionValueError):
        opts_with(("sysctl", value))


@pytest.mark.parametrize("value", ["NOEQUALS", "1A=x", "A B=x", ""])
def test_bad_env(value: str) -> None:
    with pytest.raises(OptionValueError):
        opts_with(("env", value))


@pytest.mark.parametrize("value", ["0", "70000", "80:0", "a:80", "80/icmp", "1:2:3", ""])
def test_bad_port(value: str) -> None:
    with pytest.raises(OptionValueError):
        parse_port(value)


def test_num_terms_and_text() -> None:
    opts = opts_with(("num_terms", "0"), ("shell", "/bin/sh"), ("image", "kathara/frr"))
    assert (opts.num_terms, opts.shell, opts.image) == (0, "/bin/sh", "kathara/frr")
    for bad in ("-1", "1.5", "x", "²"):
        with pytest.raises(OptionValueError):
            opts_with(("num_terms", bad))
    for bad in ("  ", "Kathara/FRR", "a b", "frr:", "-x/y"):
        with pytest.raises(OptionValueError):
            opts_with(("image", bad))


def test_image_names_read_as_docker_reads_them() -> None:
    from nk_jupyter.model.images import canonical
    assert canonical("kathara/frr") == "docker.io/kathara/frr:latest"
    assert canonical("debian:12") == "docker.io/library/debian:12"
    assert canonical("localhost/nkbb:1") == "localhost/nkbb:1"
    assert canonical("registry.example:5000/a/b") == "registry.example:5000/a/b:latest"
    assert opts_with(("image", " kathara/bind:9.11 ")).image == "kathara/bind:9.11"


def test_unsupported_recorded_once() -> None:
    opts = opts_with(("image", "a"), ("bridged", "true"), ("port", "22"), ("port", "23"), ("ulimit", "x=1"))
    assert opts.unsupported == ["ulimit"]


def test_netkit_and_unknown_options_kept_verbatim() -> None:
    opts = opts_with(("con0", "this"), ("D", ""), ("append", "quiet x=1"), ("whatever", "v"))
    assert opts.other == {"con0": "this", "D": "", "append": "quiet x=1", "whatever": "v"}
    assert opts.unsupported == []


def test_ports_and_shapes() -> None:
    opts = opts_with(("port", "0.0.0.0:8080:80"), ("port", "22"), ("shape", "eth1 rate=10mbit loss=2%"))
    assert [str(p) for p in opts.ports] == ["0.0.0.0:8080:80/tcp", "127.0.0.1:3000:22/tcp"]
    assert str(opts.shapes[1]) == "rate=10mbit loss=2%" and opts.shapes[1].rate_bps == 10_000_000
    for bad in (("port", "70000:1"), ("port", "1:2/icmp"), ("port", "a:b"), ("shape", "rate=1mbit"),
                ("shape", "eth0 rate=fast"), ("shape", "eth0 loss=200%"), ("shape", "eth0 colour=red"),
                ("shape", "eth0 rate=100gbit"), ("shape", "eth0 delay=99999999s"), ("shape", "eth0 rate=١mbit")):
        with pytest.raises(OptionValueError):
            opts_with(bad)


def test_a_sysctl_value_with_a_nul_is_refused():
    """A machine's init reads its orders as NUL-terminated words: a NUL in a value would make two."""
    from nk_jupyter.model.options import parse_sysctl
    with pytest.raises(OptionValueError, match="NUL"):
        parse_sysctl("net.ipv4.ip_forward=1\0copy\0/hostlab")
    assert parse_sysctl("net.ipv4.ip_forward=1") == ("net.ipv4.ip_forward", "1")
