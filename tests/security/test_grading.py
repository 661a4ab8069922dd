"""A hostile student submission against the teacher who grades it (issue #7, class 5)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..conftest import nk

SIMPLE = {"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "ip addr add 10.0.0.1/24 dev eth0\n",
          "pc2.startup": "ip addr add 10.0.0.2/24 dev eth0\n"}


def _victim(tmp_path: Path) -> Path:
    """A folder of the teacher's, with a secret, that a submission tries to reach."""
    v = tmp_path / "teacher"
    (v / "results").mkdir(parents=True)
    (v / "signature").mkdir()
    (v / "secret.txt").write_text("exam answers\n")
    (v / "results" / "keep").write_text("mine\n")
    (v / "signature" / "keep").write_text("mine\n")
    return v


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ltest_does_not_follow_a_test_dir_symlink(make_lab, tmp_path):
    victim = _victim(tmp_path)
    before = _snapshot(victim)
    lab = make_lab(SIMPLE)
    os.symlink(victim, lab / "_test")
    r = nk("ltest", "-d", str(lab), "--timeout", "20")
    assert r.returncode == 3 and "_test" in r.stderr and "symlink" in r.stderr, r.stderr
    assert _snapshot(victim) == before


def test_ltest_writes_results_only_inside_the_lab_whatever_the_tests_plant(make_lab, tmp_path):
    """The lab's own test scripts run in the machines while nk collects results: they replace
    _test/results with a symlink to the teacher's folder and plant result files that are
    symlinks to the teacher's secret. Nothing of the teacher's is written, removed or copied."""
    victim = _victim(tmp_path)
    before = _snapshot(victim)
    lab = make_lab({**SIMPLE, "_test/pc1.test": f"""
        mv /hostlab/_test/results /hostlab/_test/moved
        ln -s {victim}/results /hostlab/_test/results
        ln -s {victim}/secret.txt /hostlab/_test/moved/pc2.user
        echo pc1 says hi
        """, "_test/pc2.test": f"""
        sleep 1
        ln -sf {victim}/secret.txt /hostlab/_test/results/pc1.shared 2>/dev/null
        echo pc2 says hi
        """})
    r = nk("ltest", "-d", str(lab), "--timeout", "30")
    assert r.returncode == 0, r.stdout + r.stderr  # first run: signs
    assert _snapshot(victim) == before
    sig = lab / "_test" / "signature"
    copied = " ".join(p.read_text() for p in sig.iterdir() if p.is_file())
    assert "exam answers" not in copied
    assert not any(p.is_symlink() for p in sig.iterdir())
    assert (sig / "pc1.user").read_text() == "pc1 says hi\n"


def test_signing_copies_no_symlinked_result(make_lab, tmp_path):
    """A result file that is a symlink when the signature is made is left out, not followed."""
    victim = _victim(tmp_path)
    lab = make_lab({**SIMPLE, "_test/pc1.test": f"""
        echo ok
        (sleep 3; ln -sfn {victim}/secret.txt /hostlab/_test/results/pc2.shared) &
        """})
    r = nk("ltest", "-d", str(lab), "--timeout", "30")
    assert r.returncode == 0, r.stderr
    texts = [p.read_text() for p in (lab / "_test" / "signature").iterdir() if p.is_file()]
    assert not any("exam answers" in t for t in texts)


def test_checker_does_not_grade_a_symlinked_submission(make_lab, tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    real = make_lab(SIMPLE, name="alice")
    os.rename(real, submissions / "alice")
    outside = make_lab({"lab.conf": "x[0]=A\n"}, name="outside")
    os.symlink(outside, submissions / "mallory")
    config = tmp_path / "check.json"
    config.write_text(json.dumps({"convergence_time": 0, "test": {"reachability": {"pc1": ["10.0.0.2"]}}}))
    r = nk("check", str(config), "--labs", str(submissions), "-f", "json")
    by_name = {lab["lab"]: lab for lab in json.loads(r.stdout)}
    assert by_name["alice"]["passed"], by_name["alice"]
    assert "symlink" in by_name["mallory"]["error"]
    assert not (outside / "_test").exists()
