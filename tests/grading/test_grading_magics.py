"""%ltest and %check in a real IPython shell (registered with magics.register)."""
from __future__ import annotations

import pytest

from .conftest import GRADING_LABS, needs_daemons, needs_labs

pytestmark = needs_labs


@pytest.fixture(scope="module")
def shell():
    pytest.importorskip("IPython")
    from IPython.testing.globalipapp import get_ipython  # the one test shell other test files use too
    from nk_jupyter.grading.magics import register
    ip = get_ipython()
    register(ip)
    return ip


def test_ltest_magic(shell, lab_copy, capsys):
    from IPython.core.error import UsageError
    lab_dir = lab_copy("static_route")
    assert shell.run_line_magic("ltest", f"-d {lab_dir} -S") is None
    assert capsys.readouterr().out.splitlines() == ["[ OK ] pc1", "[ OK ] r1", "[ OK ] pc2"]
    (lab_dir / "r1.startup").write_text("ip addr add 10.0.1.1/24 dev eth0\n")
    report = shell.run_line_magic("ltest", f"-d {lab_dir}")
    out = capsys.readouterr().out
    assert not report.passed and "[FAIL] pc1" in out and "pc2 unreachable" in out
    with pytest.raises(UsageError, match="argument --verify: invalid choice"):
        shell.run_line_magic("ltest", f"-d {lab_dir} --verify nope")
    (lab_dir / "_test" / "ghost.test").write_text("true\n")
    with pytest.raises(UsageError, match=r"%ltest: .*ghost\.test: a test for machine 'ghost'"):
        shell.run_line_magic("ltest", f"-d {lab_dir}")


@needs_daemons
def test_check_magic(shell, lab_copy, tmp_path, capsys):
    from IPython.core.error import UsageError
    lab_dir = lab_copy("ospf_pair")
    [result] = shell.run_line_magic("check", f"{GRADING_LABS / 'configs' / 'ospf_pair.json'} -d {lab_dir}")
    assert result.passed and result.score == 100
    bad = tmp_path / "bad.yaml"
    bad.write_text("test:\n  http:\n    r1: []\n")
    with pytest.raises(UsageError, match=r"bad\.yaml:2: test\.http: unknown check"):
        shell.run_line_magic("check", f"{bad} -d {lab_dir}")
