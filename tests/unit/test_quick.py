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


HEAVY = ("re", "json", "enum", "socket", "selectors", "collections", "functools", "typing", "dataclasses",
         "array", "signal", "argparse", "pathlib")


def test_the_fast_door_imports_nothing_heavy():
    """`nk vcmd` pays its imports per command: its path (the CLI's entry, the fast door, the
    relay) loads C modules and nk's light ones only. Run without site (whose .pth files load
    what they like) and with nk's own folder on the path."""
    import os
    import subprocess
    import sys

    import nk_jupyter
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import nk_jupyter.cli, nk_jupyter.cli.relay, "
            "nk_jupyter.quick; print(' '.join(sorted(sys.modules)))")
    parent = os.path.dirname(os.path.dirname(nk_jupyter.__file__))
    loaded = subprocess.run([sys.executable, "-I", "-S", "-c", code, parent], capture_output=True, text=True,
                            check=True).stdout.split()
    assert "nk_jupyter.quick" in loaded and not set(HEAVY) & set(loaded)


def test_lab_ids_keep_the_rule_they_had():
    """The state folder of a lab is named by its id: a change would lose running labs."""
    from nk_jupyter.engine import stateroot
    assert stateroot.lab_id("/home/s/lab 1é/x-y_z.v") == "x-y_z.v-" + stateroot.sha1(b"/home/s/lab 1\xc3\xa9/x-y_z.v").hexdigest()[:8]
    assert stateroot.lab_id("/home/s/ma lab é+") == "ma_lab___-" + stateroot.sha1("/home/s/ma lab é+".encode()).hexdigest()[:8]
    assert stateroot.lab_id("/") .startswith("lab-")
    assert stateroot.lab_id("/x/" + "a" * 40).startswith("a" * 24 + "-")
