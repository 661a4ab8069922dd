"""nk vcmd's fast door speaks the API's own Exec message (nk_jupyter/quick.py)."""
from __future__ import annotations

from nk_jupyter import quick, wire
from nk_jupyter.engine import messages as msg
from nk_jupyter.engine import running


def test_the_fast_exec_request_is_the_api_s_exec():
    frame = quick.exec_request("pc1", "ip a | grep inet")
    assert frame.pop("op") == msg.Exec.OP
    assert wire.decode(msg.Exec, frame) == msg.Exec("pc1", "ip a | grep inet")


def test_exec_status_is_read_as_the_typed_model_reads_it():
    assert running.exec_status({"ok": True, **wire.encode(msg.ExecStatus(7))}) == 7
    assert set(wire.encode(msg.ExecStarted())) == set()
    for bad in ({"ok": True, "status": "7"}, {"ok": True, "status": True}, {"ok": True}):
        try:
            running.exec_status(bad)
        except Exception as e:
            assert "does not understand" in str(e)
        else:
            raise AssertionError(bad)
