"""Fixtures for the grading tests: fixture labs copied into tmp_path (ltest writes into
the lab folder), the nk CLI, and a skip when this host cannot run labs."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import pytest

from ..conftest import nk, userns_reason  # noqa: F401  (nk is re-exported for the tests)

GRADING_LABS = Path(__file__).resolve().parent.parent / "labs" / "grading"
REASON = userns_reason()
needs_labs = pytest.mark.skipif(bool(REASON), reason=REASON or "")


def _daemons_reason() -> str | None:
    """Daemons that drop privileges (FRR, bind, apache) need a sub-ID range for this user."""
    from nk_jupyter.linux.idmap import subid_ranges
    if REASON:
        return REASON
    if not subid_ranges("uid") or not subid_ranges("gid"):
        return "this user has no /etc/subuid and /etc/subgid range: FRR, bind and apache cannot run in labs"
    return None


DAEMONS_REASON = _daemons_reason()
needs_daemons = pytest.mark.skipif(bool(DAEMONS_REASON), reason=DAEMONS_REASON or "")


def copy_lab(name: str, dest: Path) -> Path:
    """tests/labs/grading/NAME copied to dest/NAME (writable by this user)."""
    src = GRADING_LABS / name
    assert src.is_dir(), src
    target = dest / name
    shutil.copytree(src, target)
    return target


@pytest.fixture
def lab_copy(tmp_path: Path) -> Callable[[str], Path]:
    def make(name: str) -> Path:
        return copy_lab(name, tmp_path)
    return make


@pytest.fixture(autouse=True)
def nothing_left_running(tmp_path):
    """Every grading run crashes the labs it booted: none of this test's labs may still run."""
    yield
    from nk_jupyter.engine.statedir import all_states
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        live = [s for s in all_states() if str(tmp_path) in s.read_json().get("directory", "") and s.is_live()]
        if not live:
            return
        time.sleep(0.1)
    pytest.fail(f"labs left running: {[str(s.path) for s in live]}")
