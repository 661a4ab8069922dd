"""nk's frames are json.dumps(separators=(",", ":")) and json.loads exactly, through the C codec."""
from __future__ import annotations

import json
import math

import pytest

from nk_jupyter import cjson

VALUES = [
    {}, [], "", 0, -1, 2**70, 1.5, -0.0, 1e300, True, False, None,
    {"op": "exec", "machine": "pc1", "command": "echo 'a\"b' \\ \t\n\x00\x1f é ☃ \U0001f600"},
    {"nested": [{"a": [1, [2, [3, {"b": None}]]]}], "k\u2028": "v"},
    [float("inf"), float("-inf")],
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_dumps_and_loads_are_the_standard_module_s(value):
    text = cjson.dumps(value)
    assert text == json.dumps(value, separators=(",", ":"))
    assert cjson.loads(text) == json.loads(text) == value
    assert cjson.loads(text.encode()) == value
    assert cjson.loads(f" \n\t{json.dumps(value, indent=2)}\r\n ") == value


def test_nan_travels_as_the_standard_module_sends_it():
    assert cjson.dumps([float("nan")]) == "[NaN]"
    assert math.isnan(cjson.loads("[NaN]")[0])


@pytest.mark.parametrize("text", ["", "   ", "{", '{"a": }', '{"a" 1}', "[1,]", "[1] [2]", "01", '"\x01"',
                                  '{"a": 1} x', "nul", b"\xff\xfe", "'single'"])
def test_what_the_standard_module_refuses_is_a_value_error(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        cjson.loads(text)


def test_what_json_cannot_carry_is_a_type_error():
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        cjson.dumps({"a": {1, 2}})
    with pytest.raises(TypeError):
        cjson.dumps({(1, 2): 3})


def test_a_hostile_frame_is_a_protocol_error_and_its_descriptors_are_closed():
    """Nesting deeper than the interpreter's recursion limit, bad JSON, a non-object: each is a
    ProtocolError, and the descriptors sent with it are not left open in the reader."""
    import os
    import socket
    import struct

    from nk_jupyter import wire
    for body in (b"[" * 100_000 + b"]" * 100_000, b"{", b"[1]"):
        a, b = socket.socketpair()
        r, w = os.pipe()
        try:
            a.sendmsg([struct.pack("<I", len(body)) + body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", r))])
            before = set(os.listdir("/proc/self/fd"))
            with pytest.raises(wire.ProtocolError):
                wire.recv(b)
            assert set(os.listdir("/proc/self/fd")) <= before  # (the received copy was closed)
        finally:
            for fd in (r, w):
                os.close(fd)
            a.close()
            b.close()
