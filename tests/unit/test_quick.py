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


def test_the_fast_door_speaks_only_into_a_private_state_root(tmp_path, monkeypatch):
    """A state root that is not a 0700 folder of ours (another user's, say, with a socket of theirs
    in it) is never spoken to: the full API then says what is wrong with it."""
    from nk_jupyter.engine import stateroot
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert stateroot.private(str(mine))
    (tmp_path / "open").mkdir(mode=0o755)
    (tmp_path / "open").chmod(0o755)
    (tmp_path / "link").symlink_to(mine)
    assert not stateroot.private(str(tmp_path / "open")) and not stateroot.private(str(tmp_path / "link"))
    assert not stateroot.private(str(tmp_path / "missing"))
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg))
    if stateroot.root() != str(xdg / "nk"):
        import pytest
        pytest.skip("this file system keeps no user xattrs: nk would not use XDG_RUNTIME_DIR here")
    (xdg / "nk").mkdir(mode=0o755)
    (xdg / "nk").chmod(0o755)
    assert quick.exec_stream(str(tmp_path), "pc1", "true") is None
