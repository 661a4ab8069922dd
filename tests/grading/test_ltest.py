"""nk ltest on real labs: shipped signatures pass, mutations fail naming the machine,
first runs sign, hanging tests are stopped, foreign signatures and bad _test files refused."""
from __future__ import annotations

import json
import time

import pytest

from nk_jupyter.api import Lab
from nk_jupyter.errors import LabConfError, UserError
from nk_jupyter.grading.ltest import run_ltest

from .conftest import needs_labs, nk

pytestmark = needs_labs


def statuses(report) -> dict[str, str]:
    return {m.name: m.status for m in report.machines}


@pytest.mark.parametrize("name, results", [
    ("static_route", ["pc1.user", "pc2.user", "pc1.default", "r1.default", "pc2.default"]),
    ("jh_layout", ["a.shared", "b.shared", "a.user", "a.default", "b.default"]),
    ("netkit_old", ["h1.user", "h2.user"]),
])
def test_shipped_signatures_pass(lab_copy, name, results):
    lab_dir = lab_copy(name)
    before = sorted(p.name for p in (lab_dir / "_test" / "signature").iterdir())
    report = run_ltest(lab_dir)
    assert report.passed and not report.signed, report.as_dict()
    assert set(statuses(report).values()) == {"OK"}
    for f in results:
        assert (lab_dir / "_test" / "results" / f).is_file(), f
    # comparing never rewrites the signature (old labs keep theirs as shipped, without a manifest)
    assert sorted(p.name for p in (lab_dir / "_test" / "signature").iterdir()) == before
    assert not Lab.from_dir(lab_dir).running


def test_cli_script_mode_and_exit_status(lab_copy):
    lab_dir = lab_copy("static_route")
    r = nk("ltest", "-d", str(lab_dir), "-S", "--delay", "1s")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[ OK ] pc1", "[ OK ] r1", "[ OK ] pc2"]
    (lab_dir / "pc1.startup").write_text("ip addr add 10.0.1.2/24 dev eth0\nip route add default via 10.0.1.254\n")
    r = nk("ltest", "-d", str(lab_dir), "-S")
    assert r.returncode == 1
    assert r.stdout.splitlines() == ["[FAIL] pc1", "[ OK ] r1", "[ OK ] pc2"]
    r = nk("ltest", "-d", str(lab_dir), "--delay", "soon")
    assert r.returncode == 3 and "--delay 'soon': give a number of seconds" in r.stderr
    r = nk("ltest", "-d", str(lab_dir), "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 1 and not doc["passed"]
    bad = [m for m in doc["machines"] if m["status"] == "FAIL"]
    assert [m["machine"] for m in bad] == ["pc1"]
    assert "pc2 unreachable" in bad[0]["mismatches"][0]["diff"]


def test_first_run_signs_then_compares_with_stable_builtin_output(lab_copy):
    lab_dir = lab_copy("static_route")
    sig = lab_dir / "_test" / "signature"
    for f in sig.iterdir():
        f.unlink()
    first = run_ltest(lab_dir)
    assert first.signed and set(statuses(first).values()) == {"SIGN"}
    manifest = json.loads((sig / ".nk-signature.json").read_text())
    assert manifest["machines"] == ["pc1", "pc2", "r1"]
    default1 = (lab_dir / "_test" / "results" / "r1.default").read_text()
    second = run_ltest(lab_dir)
    assert second.passed and not second.signed
    default2 = (lab_dir / "_test" / "results" / "r1.default").read_text()
    assert default1 == default2           # byte for byte: sorted, no PIDs, indexes or timers
    assert "[ROUTING TABLE]" in default1 and "10.0.2.0/24 dev eth1" in default1
    assert "@if" not in default1 and "valid_lft" not in default1
    # -R makes a new signature even though one exists
    assert run_ltest(lab_dir, rebuild=True).signed


@pytest.mark.parametrize("file, text, failing", [
    # r1 gets an extra address: only its built-in test (compared: r1 has no user test) changes
    ("r1.startup", "ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
                   "ip addr add 10.0.9.1/24 dev eth1\nsysctl -q -w net.ipv4.ip_forward=1\n", {"r1"}),
    # r1 does not forward: pc1 no longer reaches pc2; pc2 still reaches its gateway
    ("r1.startup", "ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
                   "sysctl -q -w net.ipv4.ip_forward=0\n", {"pc1"}),
    # pc2 forgot its default route: pc1's pings reach pc2 but no answer comes back
    ("pc2.startup", "ip addr add 10.0.2.2/24 dev eth0\n", {"pc1"}),
])
def test_mutated_lab_fails_naming_the_machine(lab_copy, file, text, failing):
    lab_dir = lab_copy("static_route")
    (lab_dir / file).write_text(text)
    report = run_ltest(lab_dir)
    assert not report.passed and report.exit_status == 1
    assert {n for n, s in statuses(report).items() if s == "FAIL"} == failing
    for m in report.machines:
        if m.status == "FAIL":
            assert m.mismatches and m.mismatches[0].diff.startswith("--- signature/")


def test_verify_modes(lab_copy):
    lab_dir = lab_copy("static_route")
    (lab_dir / "r1.startup").write_text("ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
                                        "ip addr add 10.0.9.1/24 dev eth1\nsysctl -q -w net.ipv4.ip_forward=1\n")
    assert run_ltest(lab_dir, verify="user").passed            # r1 has no user test
    report = run_ltest(lab_dir, verify="builtin")
    assert {n for n, s in statuses(report).items() if s == "FAIL"} == {"r1"}
    report = run_ltest(lab_dir, verify="both")
    assert {n for n, s in statuses(report).items() if s == "FAIL"} == {"r1"}
    diff = report.machines[1].mismatches[0].diff
    assert "+eth1 inet 10.0.9.1/24 scope global" in diff.splitlines()
    assert "+10.0.9.0/24 dev eth1 protocol kernel scope link src 10.0.9.1" in diff.splitlines()


def test_hanging_test_is_stopped_and_named(lab_copy):
    lab_dir = lab_copy("jh_layout")
    (lab_dir / "_test" / "scripts" / "b.test").write_text("echo before\nsleep 600\necho never\n")
    with open(lab_dir / "a.startup", "a") as f:
        f.write("false\n")                       # Netkit ignores a startup's status; nk says it
    t0 = time.monotonic()
    report = run_ltest(lab_dir, timeout=2)
    assert time.monotonic() - t0 < 60
    assert statuses(report) == {"a": "OK", "b": "FAIL"}
    assert report.warnings == ["a: startup exited with status 1"]
    b = report.machines[1]
    assert b.problems == ["_test/scripts/b.test did not finish within 2 s: stopped"]
    assert (lab_dir / "_test" / "results" / "b.user").read_text() == "before\n"
    r = nk("ltest", "-d", str(lab_dir), "--timeout", "2")
    assert r.returncode == 1 and "b.test did not finish within 2 s" in r.stdout
    assert not Lab.from_dir(lab_dir).running


def test_signature_of_another_lab_is_refused(lab_copy):
    lab_dir, other = lab_copy("jh_layout"), lab_copy("static_route")
    sig = lab_dir / "_test" / "signature"
    for f in sig.iterdir():
        f.unlink()
    for f in (other / "_test" / "signature").iterdir():
        (sig / f.name).write_bytes(f.read_bytes())
    with pytest.raises(UserError, match=r"signature of another lab: it was made for lab 'static-route'"):
        run_ltest(lab_dir)
    r = nk("ltest", "-d", str(lab_dir))
    assert r.returncode == 3 and "another lab" in r.stderr and "nk ltest -R" in r.stderr
    (sig / ".nk-signature.json").unlink()        # an old-style signature naming unknown machines
    with pytest.raises(UserError, match=r"results for pc1, pc2, r1, which this lab does not have"):
        run_ltest(lab_dir)
    assert not Lab.from_dir(lab_dir).running


def test_malformed_test_files_name_file_and_line(lab_copy):
    lab_dir = lab_copy("static_route")
    ghost = lab_dir / "_test" / "ghost.test"
    ghost.write_text("echo boo\n")
    with pytest.raises(LabConfError, match=r"ghost\.test: a test for machine 'ghost', which this lab does not have"):
        run_ltest(lab_dir)
    ghost.unlink()
    (lab_dir / "_test" / "pc2.test").write_bytes(b"echo one\necho two\r\necho three\r\n")
    r = nk("ltest", "-d", str(lab_dir))
    assert r.returncode == 3
    assert f"{lab_dir}/_test/pc2.test:2: has Windows (CRLF) line endings" in r.stderr
    (lab_dir / "_test" / "pc2.test").write_text("#!/usr/bin/no-such-shell\necho hi\n")
    with pytest.raises(LabConfError, match=r"pc2\.test:1: interpreter /usr/bin/no-such-shell does not exist"):
        run_ltest(lab_dir)
    (lab_dir / "_test" / "pc2.test").unlink()
    (lab_dir / "_test" / "scripts").mkdir()
    (lab_dir / "_test" / "scripts" / "pc1.test").write_text("echo again\n")
    with pytest.raises(LabConfError, match=r"scripts/pc1\.test: a second test for pc1"):
        run_ltest(lab_dir)
    assert not (lab_dir / "_test" / "results").exists()   # nothing was booted or written
