"""Engine pieces that need no namespaces: framing, command splitting, id maps, state dirs."""
from __future__ import annotations

import os
import socket

from nk_jupyter import wire
from nk_jupyter.backends.namespaces.session import HOST_PROFILE
from nk_jupyter.engine.bootscript import boot, command_argv
from nk_jupyter.engine.statedir import lab_id
from nk_jupyter.linux.idmap import Range, map_args
from nk_jupyter.model import Machine, MachineOptions


def test_frames_carry_json_and_file_descriptors():
    a, b = socket.socketpair()
    r, w = os.pipe()
    wire.send(a, {"op": "exec", "text": "é" * 3}, fds=[w])
    msg, fds = wire.recv(b)
    assert msg == {"op": "exec", "text": "ééé"} and len(fds) == 1
    os.write(fds[0], b"through")
    assert os.read(r, 7) == b"through"
    for fd in (r, w, *fds):
        os.close(fd)


def test_plain_words_skip_the_shell_everything_else_uses_it():
    m, p = Machine("pc1"), HOST_PROFILE
    assert command_argv(m, p, "ping -c 3 10.0.0.1") == ["ping", "-c", "3", "10.0.0.1"]
    assert command_argv(m, p, "echo $HOME")[1:] == ["-c", "echo $HOME"]
    assert command_argv(m, p, "cd /tmp")[1] == "-c"
    assert command_argv(m, p, "a | b")[1] == "-c"
    m.options = MachineOptions(shell="/bin/sh")
    assert command_argv(m, p, "ls > x") == ["/bin/sh", "-c", "ls > x"]


def test_a_shell_an_image_may_lack_is_looked_for_inside():
    from nk_jupyter.backends import Profile
    image = Profile(env={"PATH": "/bin"}, shells=())
    argv = command_argv(Machine("pc1"), image, "echo $HOME")
    assert argv[:2] == ["/bin/sh", "-c"] and argv[3] == "/bin/bash" and argv[-2:] == ["-c", "echo $HOME"]


def test_boot_runs_shared_then_machine_startup_then_exec():
    m = Machine("r1", options=MachineOptions(exec_commands=["echo done"]))
    text = boot(m)
    assert text.index("shared.startup") < text.index("r1.startup") < text.index("echo done")


def test_id_map_is_rootlesskit_shaped():
    assert map_args(1000, [Range(100000, 65536)]) == ["0", "1000", "1", "1", "100000", "65536"]
    assert map_args(1000, [Range(100000, 10), Range(200000, 5)])[-3:] == ["11", "200000", "5"]


def test_lab_ids_are_stable_and_distinct(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert lab_id(tmp_path / "a") == lab_id(tmp_path / "a")
    assert lab_id(tmp_path / "a") != lab_id(tmp_path / "b")


def test_errors_cross_the_socket_with_their_class_and_fields():
    from nk_jupyter.errors import LabConfError, UnknownMachineError, UserError, from_wire, to_wire
    wire = to_wire(UnknownMachineError("pc9", ["pc1", "pc2"]))
    err = from_wire(wire["kind"], wire["message"], wire["fields"])
    assert isinstance(err, UnknownMachineError) and err.known == ["pc1", "pc2"] and str(err) == wire["message"]
    wire = to_wire(LabConfError("lab.conf", 3, "cannot parse"))
    err = from_wire(wire["kind"], wire["message"], wire["fields"])
    assert isinstance(err, LabConfError) and (err.path, err.line) == ("lab.conf", 3)
    assert isinstance(from_wire("UnknownMachineError", "text"), UserError)


def test_a_connections_events_go_out_together_and_descriptors_stay_with_their_reply():
    """Conn (engine/handlers.py) keeps a loop turn's events and sends them in one write; a reply
    sends them first. A reply's descriptors must arrive with the reply's own frame (the client
    takes a frame's descriptors from the reads of that frame), not with the events before it."""
    from nk_jupyter.engine.handlers import Conn
    from nk_jupyter.engine.loop import Loop
    from nk_jupyter.engine.messages import ExecStarted
    from nk_jupyter.model.events import MachineEvent
    from nk_jupyter.model.states import MachineState
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    loop = Loop()
    conn = Conn(ours, loop)
    for i in range(3):
        conn.event(MachineEvent(f"pc{i}", MachineState.RUNNING))
    assert wire.recv(theirs)[0]["machine"] == "pc0"  # the first after a quiet spell goes at once
    theirs.setblocking(False)
    try:
        theirs.recv(1, socket.MSG_PEEK)
        raise AssertionError("events were sent one by one before the loop turn ended")
    except BlockingIOError:
        pass
    theirs.setblocking(True)
    r, w = os.pipe()
    conn.reply(ExecStarted(), fds=[r])  # (a reply sends the waiting events first)
    got = [wire.recv(theirs) for _ in range(3)]
    assert [f.get("machine") for f, _ in got[:2]] == ["pc1", "pc2"] and all(not fds for _, fds in got[:2])
    frame, fds = got[2]
    assert frame["ok"] is True and len(fds) == 1
    os.write(w, b"x")
    assert os.read(fds[0], 1) == b"x"
    def two_events():
        conn.event(MachineEvent("pc8", MachineState.HALTED))
        conn.event(MachineEvent("pc9", MachineState.HALTED))
        loop.stopping = True
    loop.call_later(0, two_events)
    loop.run()  # one turn: its end sends the second event
    assert [wire.recv(theirs)[0]["machine"] for _ in range(2)] == ["pc8", "pc9"]
    for fd in (r, w, *fds):
        os.close(fd)
    conn.close()
    theirs.close()
