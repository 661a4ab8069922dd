"""nbval grading, run as CI runs it (pytest in a subprocess): the solution notebooks pass
with nk's sanitize file, the (unsolved, hence wrong) student notebook fails with the
checker's reasons, the instructor's notebook fails when fed that student's answer, and
widget outputs do not break the comparison."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nk_jupyter.grading import sanitize_path

from .conftest import needs_daemons, needs_labs, nk

pytestmark = needs_labs
ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ROOT / "notebooks" / "assignments"
SOLUTIONS = sorted(ASSIGNMENTS.glob("*/solution.ipynb"))


def nbval(*args: str, env: dict | None = None, lax: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax" if lax else "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(sanitize_path()), "--nbval-cell-timeout", "120",
           "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, **(env or {})})


def test_sanitize_file_is_shipped_and_found():
    r = nk("nbval-sanitize-path")
    assert r.returncode == 0 and Path(r.stdout.strip()) == sanitize_path()
    assert sanitize_path().is_file() and "regex: " in sanitize_path().read_text()


@pytest.mark.parametrize("solution", [
    pytest.param(p, id=p.parent.name, marks=[needs_daemons] if "ospf" in p.parent.name else [])
    for p in SOLUTIONS])
def test_solution_notebooks_pass(solution):
    assert len(SOLUTIONS) >= 2
    r = nbval(str(solution))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout.splitlines()[-1] and "failed" not in r.stdout.splitlines()[-1]


def test_wrong_student_notebook_fails_with_reasons():
    student = ASSIGNMENTS / "01-static-route" / "student.ipynb"
    r = nbval(str(student), lax=True)
    assert r.returncode == 1, r.stdout[-3000:]
    assert "CheckFailed" in r.stdout
    assert ("r1 has a route to 10.0.3.0/24 via 10.0.2.2: route 10.0.3.0/24 on r1 has next hop(s) "
            "via 10.0.2.3 dev eth1, not 10.0.2.2") in r.stdout
    assert "1 failed" in r.stdout.splitlines()[-1]


def test_instructor_notebook_grades_a_students_answer(tmp_path):
    solution = ASSIGNMENTS / "01-static-route" / "solution.ipynb"
    wrong = nbval(str(solution), env={"NK_STUDENT_NOTEBOOK": str(ASSIGNMENTS / "01-static-route" / "student.ipynb")})
    assert wrong.returncode == 1
    last = wrong.stdout.splitlines()[-1]
    assert "3 failed" in last, wrong.stdout[-3000:]   # r1's table, the ping, the checks
    assert "on r1 has next hop(s) via 10.0.2.3 dev eth1, not 10.0.2.2" in wrong.stdout
    right = nbval(str(solution), env={"NK_STUDENT_NOTEBOOK": str(solution)})
    assert right.returncode == 0, right.stdout[-3000:]


def test_widget_outputs_do_not_break_comparison(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipywidgets")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider(value=3, description='hops')"),
                nbformat.v4.new_code_cell("out = ipywidgets.Output()\ndisplay(out)\nprint('after the widget')")]
    path = tmp_path / "widgets.ipynb"
    nbclient.NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    nbformat.write(nb, path)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in nb.cells[0].outputs)
    r = nbval(str(path))
    assert r.returncode == 0, r.stdout[-3000:]
