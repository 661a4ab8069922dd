from __future__ import annotations

import pytest

from ..conftest import userns_reason
from nk_jupyter.engine.launch import our_supervisors as our_processes

REASON = userns_reason()


def pytest_collection_modifyitems(config, items):
    if REASON:
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=REASON))


@pytest.fixture(autouse=True)
def no_leftover_supervisors(tmp_path):
    """Each test must stop what it started: no supervisor of its labs may outlive it."""
    yield
    import time
    from nk_jupyter.engine.statedir import all_states
    mine = [str(s.path) for s in all_states() if str(tmp_path) in s.read_json().get("directory", "")]
    deadline = time.monotonic() + 5
    while any(our_processes(p) for p in mine) and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = [pid for p in mine for pid in our_processes(p)]
    assert not leaked, f"supervisor processes left running: {leaked}"


@pytest.fixture
def started():
    """Start labs through the API; anything still running at the end is crashed."""
    labs = []

    def start(path, **kw):
        from nk_jupyter import Lab
        lab = Lab.from_dir(path)
        result = lab.start(**kw)
        labs.append(lab)
        return lab, result
    yield start
    for lab in labs:
        if lab.running:
            lab.crash()
        lab.clean()
