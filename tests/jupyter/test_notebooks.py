"""The coursework notebooks run top to bottom on a fresh nk-lab kernel, and reproduce
their stored outputs (nbval; cells tagged nbval-ignore-output hold timings)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import NOTEBOOKS, needs_labs
from .nbrun import execute

NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_three_notebooks():
    assert NAMES == ["01_lan.ipynb", "02_static_routing.ipynb", "03_ospf.ipynb"]


@needs_labs
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_with_nbclient(jupyter_env, name):
    nb, seconds = execute(NOTEBOOKS / name, timeout=180)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.output_type == "stream" and o.name == "stderr")
    assert "UsageError" not in stderr and "startup failed" not in stderr, stderr
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert first.source.startswith("%%lab ")
    assert "machines running" in "".join(o.get("text", "") for o in first.outputs)


@needs_labs
def test_notebooks_match_their_stored_outputs(jupyter_env, tmp_path):
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval",
                          "--nbval-cell-timeout=120", "-o", "xfail_strict=True", *[str(NOTEBOOKS / n) for n in NAMES]],
                         capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ), timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
