"""`nk check` as a grader runs it: it starts each lab, waits convergence_time, checks and
crashes it; a folder of submissions is graded in one command with a summary."""
from __future__ import annotations

import json

from nk_jupyter.api import Lab

from .conftest import GRADING_LABS, copy_lab, needs_daemons, nk

pytestmark = needs_daemons
CONFIG = GRADING_LABS / "configs" / "ospf_pair.json"


def test_one_lab_is_started_checked_and_crashed(tmp_path):
    lab_dir = copy_lab("ospf_pair", tmp_path)
    r = nk("check", str(CONFIG), "-d", str(lab_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ospf_pair: starting" in r.stderr and "waiting 3 s for convergence" in r.stderr
    assert "score: 6/6 checks passed (100%)" in r.stdout
    assert not Lab.from_dir(lab_dir).running


def test_a_class_of_labs_in_one_command(tmp_path):
    labs = tmp_path / "submissions"
    labs.mkdir()
    good = copy_lab("ospf_pair", labs)
    good.rename(labs / "alice")
    bad = copy_lab("ospf_pair", labs)
    bad = bad.rename(labs / "bob")
    # bob forgot to start FRR on r1: no OSPF, so no route to r1's LAN
    (bad / "r1.startup").write_text("ip addr add 10.0.0.1/30 dev eth0\nip addr add 192.168.1.1/24 dev eth1\n")
    (labs / "carol").mkdir()                     # an empty submission
    out = tmp_path / "grades.json"
    r = nk("check", str(CONFIG), "--labs", str(labs), "-f", "json", "-o", str(out))
    assert r.returncode == 1
    grades = {g["lab"]: g for g in json.loads(out.read_text())}
    assert grades["alice"]["passed"] and grades["alice"]["score"] == 100
    assert not grades["bob"]["passed"] and 0 < grades["bob"]["score"] < 100
    bob_failed = [x["description"] for x in grades["bob"]["results"] if not x["passed"]]
    # in kathara-lab-checker's order: reachability, protocols, kernel routes
    assert bob_failed == ["r2 reaches 192.168.1.1", "r2 has OSPF neighbour 1.1.1.1 (FULL)",
                          "r2 has a route to 192.168.1.0/24 via 10.0.0.1"]
    assert grades["carol"]["error"].endswith("does not look like a lab: no lab.conf and no machine folders")
    r = nk("check", str(CONFIG), "--labs", str(labs), "--convergence-time", "1")
    assert "summary:" in r.stdout and "NOT GRADED" in r.stdout
    for name in ("alice", "bob"):
        assert not Lab.from_dir(labs / name).running
