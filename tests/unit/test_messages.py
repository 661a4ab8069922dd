"""The supervisor protocol's one schema: every request has a reply type and a handler, frames
round-trip, and what does not fit the schema is refused with the field named."""
from __future__ import annotations

import dataclasses

import pytest

from nk_jupyter import wire
from nk_jupyter.engine import messages as msg
from nk_jupyter.engine.client import EngineClient
from nk_jupyter.engine.handlers import OPS
from nk_jupyter.model.events import EVENTS, MachineEvent, WarningEvent
from nk_jupyter.model.states import MachineState
from nk_jupyter.model.topology import InterfaceView, MachineView, Topology


def test_every_request_has_one_operation_and_one_reply():
    assert set(OPS) == {req for req, _reply in msg.REQUESTS.values()}
    for op, (req, reply) in msg.REQUESTS.items():
        assert req.OP == op and dataclasses.is_dataclass(reply)


def test_requests_round_trip():
    req = msg.Exec("pc1", None, ["ip", "a"], {"X": "1"}, pty=[24, 80])
    assert wire.decode(msg.Exec, wire.encode(req)) == req
    start = msg.Start(["r1"], fast=True, timeout=3, parallel=2)
    assert wire.decode(msg.Start, wire.encode(start)) == start


def test_replies_with_nested_types_round_trip():
    topo = Topology.of("lab", [MachineView("r1", MachineState.RUNNING, interfaces=[InterfaceView("eth0", "A", "aa", ["10.0.0.1/24"]),
                                                                                    InterfaceView("eth1", "B")])])
    back = wire.decode(msg.TopologyReply, wire.encode(msg.TopologyReply(topo))).topology
    assert back == topo and back.machines[0].state is MachineState.RUNNING and back.machines[0].router
    assert [d.members for d in back.domains] == [["r1:eth0"], ["r1:eth1"]]
    reply = msg.StartResult(["a"], startups={"a": msg.StartupReport(1, "boom", {"dig": "bind9-dnsutils"})})
    assert wire.decode(msg.StartResult, wire.encode(reply)) == reply


def test_bad_frames_name_the_field():
    with pytest.raises(wire.ProtocolError, match=r"timeout: expected float"):
        wire.decode(msg.Start, {"timeout": "soon"}, "request 'start'")
    with pytest.raises(wire.ProtocolError, match=r"unknown field\(s\) bogus"):
        wire.decode(msg.Halt, {"bogus": 1})
    with pytest.raises(wire.ProtocolError, match=r"machines\[1\]: expected str"):
        wire.decode(msg.Halt, {"machines": ["a", 2]})
    with pytest.raises(wire.ProtocolError, match="is not one of"):
        wire.decode(msg.MachineInfo, {"name": "a", "state": "flying"})


def test_events_travel_by_kind():
    for event in (MachineEvent("pc1", MachineState.BOOTING), WarningEvent("careful", "pc1")):
        frame = {"event": event.KIND, **wire.encode(event)}
        assert EngineClient.event(frame) == event
    assert EngineClient.event({"event": "martian"}) is None
    assert set(EVENTS) == {"machine", "links", "warning", "missing", "pull"}


def test_handshake_messages_are_tagged():
    frame = msg.handshake_frame(msg.ParentMapped(True))
    assert frame == {"msg": "ParentMapped", "full": True}
    assert msg.handshake_parse(frame) == msg.ParentMapped(True)
    with pytest.raises(wire.ProtocolError):
        msg.handshake_parse({"msg": "ChildHello"})  # no pid


def test_a_supervisor_of_another_api_is_named(tmp_path):
    from nk_jupyter.engine.client import ApiVersionError
    from nk_jupyter.engine.statedir import StateDir
    state = StateDir(tmp_path)
    state.write_json({"api": msg.API_VERSION + 1, "directory": "/labs/x"})
    with pytest.raises(ApiVersionError, match=r"another version of nk .*nk lcrash -d /labs/x"):
        EngineClient(state).check_version()
    state.write_json({"api": msg.API_VERSION, "directory": "/labs/x"})
    EngineClient(state).check_version()
