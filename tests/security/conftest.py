"""The attack suite: real labs doing real attacks, as an ordinary user.

Every test here plays a hostile lab (or a hostile student submission) against the user who
runs it, and asserts that the attack failed *and* that nothing outside changed: canary
files in the user's home and in folders made for the test stay as they were.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ..conftest import userns_reason
from ..integration.conftest import no_leftover_supervisors, started  # noqa: F401  (fixtures)

REASON = userns_reason()


def pytest_collection_modifyitems(config, items):
    if REASON:
        for item in items:
            if "security" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=REASON))


@pytest.fixture
def home_canary():
    """A file and a folder in the user's real home that no lab may touch; checked after the test."""
    home = Path.home()
    marker = home / f".nk-canary-{os.getpid()}-{time.monotonic_ns()}"
    marker.mkdir()
    (marker / "keep.txt").write_text("untouched\n")
    yield marker
    assert sorted(p.name for p in marker.iterdir()) == ["keep.txt"], f"a lab wrote into {marker}"
    assert (marker / "keep.txt").read_text() == "untouched\n"
    (marker / "keep.txt").unlink()
    marker.rmdir()


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
