"""The checker against a running FRR lab (two routers, OSPF point-to-point, hello 1 dead 4;
r2 also serves HTTP and DNS): Python API, kathara-lab-checker configurations (YAML and
tab-indented JSON), live grading from the CLI, and failures that say why."""
from __future__ import annotations

import csv
import io
import json

import pytest

from nk_jupyter.api import Lab
from nk_jupyter.grading import CheckFailed, Checker, grade
from nk_jupyter.grading.report import to_csv, to_html, to_text

from .conftest import GRADING_LABS, copy_lab, needs_daemons, nk

pytestmark = needs_daemons
CONFIGS = GRADING_LABS / "configs"


@pytest.fixture(scope="module")
def ospf_lab(tmp_path_factory):
    lab = Lab.from_dir(copy_lab("ospf_pair", tmp_path_factory.mktemp("checker")))
    result = lab.start()
    assert not result.failed, result
    try:
        converged = Checker(lab, within=30)
        converged.ospf_route("r1", "192.168.2.0/24")
        converged.ospf_route("r2", "192.168.1.0/24")
        converged.http("r1", "http://192.168.2.1/")
        converged.dns("r1", "www.lab.test", "192.168.2.1")
        converged.verify()
        yield lab
    finally:
        lab.crash()


def test_api_checks_pass(ospf_lab):
    chk = Checker(ospf_lab)
    chk.reachable("r1", "192.168.2.1")
    chk.unreachable("r1", "10.99.0.1")
    chk.route("r1", "192.168.2.0/24", via="10.0.0.2")
    chk.route("r2", "192.168.1.0/24", via=["10.0.0.1", "eth0"])
    chk.no_route("r1", "10.99.0.0/16")
    chk.address("r1", 0, "10.0.0.1/30")
    chk.address("r2", "eth1", "192.168.2.1/24")
    chk.daemon("r1", "ospfd")
    chk.daemon("r1", "bgpd", running=False)
    chk.ospf_neighbor("r1", "2.2.2.2")
    chk.ospf_neighbor("r2", "1.1.1.1", state="full")
    chk.ospf_route("r1", "192.168.2.0/24")
    chk.dns("r1", "www.lab.test", "192.168.2.1")
    chk.dns("r1", "lab.test", "ns.lab.test.", rtype="NS", server="192.168.2.1")
    chk.http("r1", "http://192.168.2.1/", body_contains="It works on r2")
    chk.http("r1", "http://192.168.2.1/nope", status=404)
    chk.sysctl("r1", "net.ipv4.ip_forward", 1)
    chk.command("r2", "hostname", exit_code=0, output="r2", regex=r"^r\d$")
    report = chk.verify()
    assert report.passed and report.score == 100 and len(report.results) == 20
    assert "20/20 checks passed (100%)" in report.text()
    assert "&#10008;" not in report._repr_html_()


def test_api_failures_say_why(ospf_lab):
    chk = Checker(ospf_lab)
    cases = [
        (chk.reachable("r1", "10.99.0.1"), "r1 gets no answer from 10.99.0.1"),
        (chk.unreachable("r1", "192.168.2.1"), "r1 can reach 192.168.2.1"),
        (chk.route("r1", "192.168.2.0/24", via="10.0.0.9"), "has next hop(s) via 10.0.0.2 dev eth0, not 10.0.0.9"),
        (chk.route("r1", "172.16.0.0/12"), "r1 has no route to 172.16.0.0/12"),
        (chk.address("r1", 0, "10.0.0.1/24"), "has prefix length /30, not /24"),
        (chk.address("r1", 7, "10.0.0.1/24"), "r1 has no interface eth7"),
        (chk.daemon("r1", "bgpd"), "bgpd is not running on r1"),
        (chk.ospf_neighbor("r1", "9.9.9.9"), "r1 has no OSPF neighbour 9.9.9.9 (neighbours: 2.2.2.2)"),
        (chk.ospf_route("r2", "172.16.0.0/12"), "r2's OSPF table has no 172.16.0.0/12"),
        (chk.bgp_peer("r1", "10.0.0.2", 65002), "bgpd is not running"),
        (chk.dns("r1", "www.lab.test", "10.1.1.1"), "r1 resolves A www.lab.test to 192.168.2.1, expected 10.1.1.1"),
        (chk.http("r1", "http://192.168.2.1/nope"), "status 404, expected 200"),
        (chk.http("r1", "http://192.168.2.1/", body_contains="Hello"), "the body does not contain 'Hello'"),
        (chk.sysctl("r1", "net.ipv4.ip_forward", 0), "net.ipv4.ip_forward is '1' on r1, not '0'"),
        (chk.command("r1", "hostname", output="r2")[0], "output 'r1', expected 'r2'"),
        (chk.reachable("pc9", "10.0.0.1"), "device pc9 is not in the lab"),
    ]
    for result, reason in cases:
        assert not result.passed and reason in result.reason, (result, reason)
    with pytest.raises(CheckFailed) as info:
        chk.verify()
    message = str(info.value)
    assert message.startswith(f"{len(cases)} of {len(cases)} checks failed:")
    assert "[FAIL] r1 reaches 10.99.0.1: r1 gets no answer from 10.99.0.1" in message
    assert isinstance(info.value, AssertionError)


def test_yaml_config_live_all_pass(ospf_lab):
    [result] = grade(CONFIGS / "ospf_pair.yaml", lab=ospf_lab.directory, live=True)
    failed = [str(r) for r in result.results if not r.passed]
    assert not failed, failed
    families = {r.family for r in result.results}
    assert families == {"structure", "sysctls", "ip_mapping", "reachability", "daemons", "ospf", "kernel_routes",
                        "dns", "http", "custom_commands"}
    assert len(result.results) == 43 and result.score == 100


def test_json_config_with_tabs_live_from_cli(ospf_lab):
    r = nk("check", str(CONFIGS / "ospf_pair.json"), "-d", str(ospf_lab.directory), "--live", "-f", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    [doc] = json.loads(r.stdout)
    assert doc["passed"] and doc["checks"] == 6 and doc["score"] == 100
    assert ospf_lab.running                     # --live leaves the lab as it was


def test_wrong_oracle_scores_and_reports(ospf_lab, tmp_path):
    config = tmp_path / "wrong.yaml"
    config.write_text("convergence_time: 0\ntest:\n  reachability:\n    r1: [192.168.2.1, 10.99.0.1]\n"
                      "  protocols:\n    bgpd:\n      neighbors:\n        r1: [{ip: 10.0.0.2, asn: 2}]\n")
    r = nk("check", str(config), "-d", str(ospf_lab.directory), "--live", "-f", "csv")
    assert r.returncode == 1
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(row["device"], row["passed"]) for row in rows] == [("r1", "True"), ("r1", "False"), ("r1", "False")]
    assert "bgpd is not running" in rows[2]["reason"]
    r = nk("check", str(config), "-d", str(ospf_lab.directory), "--live")
    assert "score: 1/3 checks passed (33%)" in r.stdout
    assert "[FAIL] r1 reaches 10.99.0.1: r1 gets no answer from 10.99.0.1" in r.stdout
    [res] = grade(config, lab=ospf_lab.directory, live=True)
    assert "33%" in to_text([res]) and "&#10008;" in to_html([res]) and to_csv([res]).count("\n") == 4
