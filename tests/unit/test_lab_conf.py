"""lab.conf: both dialects, and an error with file:line for every bad line."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from nk_jupyter.errors import LabConfError, UserError
from nk_jupyter.labconf import load_lab
from nk_jupyter.model import Interface, Lab


def load_error(lab: Path) -> LabConfError:
    with pytest.raises(LabConfError) as info:
        load_lab(lab)
    return info.value


def assert_error_at(err: LabConfError, lab: Path, name: str, line: int | None, *fragments: str) -> None:
    assert err.path == str(lab / name)
    assert err.line == line
    where = f"{name}:{line}: " if line else f"{name}: "
    assert where in str(err), str(err)
    for fragment in fragments:
        assert fragment in err.message, err.message
    assert isinstance(err, UserError)


def test_netkit_quoted(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("netkit_quoted"))
    assert isinstance(lab, Lab)
    assert lab.name == "netkit_quoted"
    assert list(lab.machines) == ["pc1", "pc2", "r1", "pc3"]
    assert lab.machine("r1").interfaces == {0: Interface(0, "A"), 1: Interface(1, "B")}
    assert {name: link.attachments for name, link in lab.links.items()} == {
        "A": [("pc1", 0), ("pc2", 0), ("r1", 0)], "B": [("r1", 1), ("pc3", 0)]}
    assert lab.metadata == {"LAB_DESCRIPTION": "ARP lab: a = b", "LAB_VERSION": "1.0",
                            "LAB_AUTHOR": "Roma Tre", "LAB_EMAIL": "someone@example.org",
                            "LAB_WEB": "http://www.netkit.org/"}
    pc1 = lab.machine("pc1")
    assert pc1.options.mem == "64m" and lab.machine("r1").options.mem == "128m"
    assert pc1.options.other == {"con0": "this", "D": ""}
    assert pc1.folder == fixture_lab("netkit_quoted").resolve() / "pc1"
    assert lab.machine("pc3").folder is None
    assert lab.startup_path("pc1").is_file() and not lab.startup_path("pc2").exists()
    assert lab.shared_startup.is_file() and not lab.shared_shutdown.exists()
    assert lab.shutdown_path("pc1") == lab.directory / "pc1.shutdown"
    assert lab.dependencies == {} and not lab.has_dep_file and lab.warnings == []


def test_kathara_mac_and_options(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("kathara_mac"))
    assert lab.name == "kmac"
    r1 = lab.machine("r1")
    assert r1.interfaces[0] == Interface(0, "A", "02:00:00:00:00:01")
    assert r1.interfaces[1] == Interface(1, "B", None)
    assert r1.interfaces[2].mac == "02:ab:cd:00:00:02"
    o = r1.options
    assert o.image == "kathara/frr" and o.cpus == 0.5 and o.mem == "1g" and o.ipv6 is True
    assert o.shell == "/bin/sh" and o.num_terms == 0 and o.bridged is True
    assert o.exec_commands == ["echo one", "echo 'two words'"]
    assert o.sysctls == {"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1"}
    assert o.env == {"FOO": "bar=baz"}
    assert [str(p) for p in o.ports] == ["127.0.0.1:8080:80/udp", "127.0.0.1:3000:22/tcp"]
    assert o.unsupported == []
    pc = lab.machine("pc_1")
    assert pc.options.mem == "64m", "the first value wins"
    assert pc.options.other == {"foo": "bar"}
    assert any("lab.conf:21:" in w and "first value" in w for w in lab.warnings)
    assert any("lab.conf:22:" in w and "pc_1[foo]" in w for w in lab.warnings)


def test_machines_override(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("machines_override"))
    assert list(lab.machines) == ["r1", "pc2", "pc1"]
    assert "pc9" not in lab.machines and list(lab.links["A"].machines) == ["r1", "pc2", "pc1"]
    assert lab.machine("pc2").folder is None
    assert lab.ignored_folders == ["extra"]
    assert any("pc9" in w and "lab.conf:6:" in w for w in lab.warnings)
    assert "ignored folders not named in lab.conf: extra" in lab.warnings


def test_lab_machines_jh(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("lab_machines_jh"))
    assert list(lab.machines) == ["b", "a"]
    assert lab.ignored_folders == ["c"]
    assert lab.metadata == {"LAB_DESCRIPTION": "jh style"}
    assert lab.links == {}


def test_interface_gaps_kept(fixture_lab: Callable[[str], Path]) -> None:
    lab = load_lab(fixture_lab("ignored_folders"))
    assert sorted(lab.machine("pc1").interfaces) == [0, 3]
    assert lab.machine("pc1").ifname(3) == "eth3"


@pytest.mark.parametrize("case, line, fragments", [
    ("glued_line", 2, ["cannot parse: pc1[0]=Apc2[0]=B"]),
    ("bad_name_slash", 3, ["invalid machine name 'a/b'"]),
    ("dotdot_name", 2, ["invalid machine name '..'"]),
    ("eth_syntax", 2, ["unknown interface syntax 'eth0'", "pc2[0]=A"]),
    ("sysctl_non_net", 3, ["pc1[sysctl]", "only net.*", "kernel.panic"]),
])
def test_fixture_errors(fixture_lab: Callable[[str], Path], case: str, line: int, fragments: list[str]) -> None:
    lab = fixture_lab(case)
    assert_error_at(load_error(lab), lab, "lab.conf", line, *fragments)


BAD_LINES = [
    ('pc1[0]="A', ["cannot parse", "unbalanced quotes"]),
    ("pc1[0]=A\"", ["cannot parse", "unbalanced quotes"]),
    ("pc1[0]=\"A'", ["cannot parse"]),
    ('pc1[0]="A" B', ["cannot parse"]),
    ("pc1[0]=A B", ["cannot contain spaces"]),
    ('pc1[0]="A B"', ["cannot contain spaces"]),
    ("pc1[0]=", ["missing collision domain"]),
    ("pc1[0]=tap,10.0.0.1,10.1.0.2", ["pc1[0]", "must be in one /24"]),
    ("pc1[0]=tap,10.0.0.1,10.0.0", ["pc1[0]", "IPv4 addresses"]),
    ("pc1[0]=A/02:00:00:00:00", ["invalid MAC"]),
    ("pc1[0]=A/01:00:00:00:00:01", ["multicast"]),
    ("pc1[0]=A/B", ["invalid MAC"]),
    ("pc1[0]=A;B", ["invalid collision domain name"]),
    ("pc1[0]=..", ["invalid collision domain name"]),
    ("pc1[0]=" + "x" * 65, ["invalid collision domain name"]),
    ("pc1[99999]=A", ["too large"]),
    ("pc1[]=A", ["cannot parse"]),
    ("pc1[a b]=A", ["cannot parse"]),
    ("pc1[eth1]=A", ["unknown interface syntax 'eth1'", "pc1[1]=A"]),
    ("shared[0]=A", ["reserved"]),
    ("CVS[0]=A", ["reserved"]),
    ("-pc[0]=A", ["invalid machine name"]),
    ("pc-[0]=A", ["invalid machine name"]),
    ("p.c[0]=A", ["invalid machine name"]),
    ("../etc[0]=A", ["invalid machine name"]),
    ("a" * 65 + "[0]=A", ["invalid machine name"]),
    ("pc1[mem]=lots", ["pc1[mem]", "memory"]),
    ("pc1[cpus]=0", ["pc1[cpus]"]),
    ("pc1[port]=99999", ["pc1[port]"]),
    ("pc1[ipv6]=maybe", ["pc1[ipv6]"]),
    ("pc1[env]=1X=2", ["pc1[env]"]),
    ("pc1[num_terms]=-1", ["pc1[num_terms]"]),
    ("FOO=bar", ["unknown variable 'FOO'"]),
    ("garbage", ["cannot parse: garbage"]),
    ("pc1 [0]=A", ["cannot parse"]),
    ("LAB_NAME=xLAB_AUTHOR=y", ["cannot parse"]),
    ('machines="a ../b"', ["invalid machine name '../b'"]),
    ("LAB_MACHINES=a,b/c", ["invalid machine name 'b/c'"]),
]


@pytest.mark.parametrize("text, fragments", BAD_LINES)
def test_bad_line_names_file_and_line(make_lab: Callable[..., Path], text: str, fragments: list[str]) -> None:
    lab = make_lab({"lab.conf": f"# a lab\n\nok[0]=A\n{text}\nok[1]=B\n"})
    assert_error_at(load_error(lab), lab, "lab.conf", 4, *fragments)


@pytest.mark.parametrize("text, message", [
    ("pc1[0]=A\npc1[1]=A\n", "attached to 'A' twice"),
    ("pc1[0]=A\npc1[0]=B\n", "eth0 is already attached to 'A'"),
    ("pc1[0]=A\nPC1[0]=B\n", "differ only by case"),
    ('pc1[0]=A\nmachines="pc1 PC1"\n', "differ only by case"),
])
def test_second_line_errors(make_lab: Callable[..., Path], text: str, message: str) -> None:
    lab = make_lab({"lab.conf": text})
    assert_error_at(load_error(lab), lab, "lab.conf", 2, message)


def test_crlf_refused_at_first_crlf_line(make_lab: Callable[..., Path]) -> None:
    lab = make_lab({"lab.conf": b"pc1[0]=A\npc2[0]=A\r\npc3[0]=A\r\n"})
    assert_error_at(load_error(lab), lab, "lab.conf", 2, "Windows (CRLF) line ends", "dos2unix")


def test_not_utf8(make_lab: Callable[..., Path]) -> None:
    lab = make_lab({"lab.conf": b"pc1[0]=A\n\npc2[0]=\xff\n"})
    assert_error_at(load_error(lab), lab, "lab.conf", 3, "UTF-8")


def test_comments_quotes_and_spacing(make_lab: Callable[..., Path]) -> None:
    lab = make_lab({"lab.conf": "\ufeff# BOM and comments\n"
                                "   pc1[0] = 'A'   # inline\n"
                                "pc1[1]=B # inline\n"
                                "pc1[exec]=echo a#b\n"
                                "pc1[exec]=\"echo 'x # y'\"\n"
                                "LAB_DESCRIPTION=\"Exercise #3 = fun\"  # really\n"
                                "LAB_AUTHOR='It''s'\n"})
    # the last line is refused: text after the closing quote
    err = load_error(lab)
    assert_error_at(err, lab, "lab.conf", 7, "cannot parse")
    (lab / "lab.conf").write_text((lab / "lab.conf").read_text().replace("LAB_AUTHOR='It''s'", "LAB_AUTHOR=\"It's\""))
    loaded = load_lab(lab)
    pc1 = loaded.machine("pc1")
    assert {n: i.link for n, i in pc1.interfaces.items()} == {0: "A", 1: "B"}
    assert pc1.options.exec_commands == ["echo a#b", "echo 'x # y'"]
    assert loaded.metadata == {"LAB_DESCRIPTION": "Exercise #3 = fun", "LAB_AUTHOR": "It's"}


def test_repeated_variables_first_wins(make_lab: Callable[..., Path]) -> None:
    lab = load_lab(make_lab({"lab.conf": "LAB_NAME=one\nLAB_NAME=two\nmachines=a\nLAB_MACHINES=b\n",
                             "a": None, "b": None}))
    assert lab.name == "one" and list(lab.machines) == ["a"]
    assert any("lab.conf:2:" in w for w in lab.warnings) and any("lab.conf:4:" in w for w in lab.warnings)


def test_names_allowed(make_lab: Callable[..., Path]) -> None:
    lab = load_lab(make_lab({"lab.conf": "a[0]=x.y-z_1\n7[0]=x.y-z_1\npc_1[0]=Q\nR-1[0]=Q\n"}))
    assert list(lab.machines) == ["a", "7", "pc_1", "R-1"]
    assert lab.links["x.y-z_1"].attachments == [("a", 0), ("7", 0)]


def test_crlf_fixture(fixture_lab: Callable[[str], Path]) -> None:
    lab = fixture_lab("crlf")
    assert_error_at(load_error(lab), lab, "lab.conf", 2, "Windows (CRLF) line ends; convert with dos2unix")


def test_netkit_tap_interfaces_are_uplinks(fixture_lab: Callable[[str], Path]) -> None:
    from nk_jupyter.model.uplinks import TapSpec
    lab = load_lab(fixture_lab("tap"))
    pc1 = lab.machine("pc1")
    assert pc1.options.taps == {0: TapSpec(0, "10.0.0.1", "10.0.0.2")} and 0 not in pc1.interfaces
    assert pc1.options.taps[0].network == "10.0.0.0/24"
