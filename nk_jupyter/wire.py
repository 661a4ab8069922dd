"""The one framing every nk channel uses (RootlessKit's): a uint32 little-endian length, then a
JSON object; a frame may carry file descriptors (SCM_RIGHTS). Used by the launcher's handshake
with a supervisor, the supervisor's API socket (engine/messages.py) and each
machine's init (backends/namespaces/). Messages are dataclasses: wire.encode and wire.decode
(wire_schema.py) are loaded on first use, so a client that only frames (nk vcmd's fast door)
starts without dataclasses and typing.
"""
from __future__ import annotations

import array
import json
import socket
import struct

MAX_FRAME = 16 << 20
MAX_FDS = 64  # a lab hands its supervisor one descriptor per container image


class ProtocolError(Exception):
    pass


def frame(msg: dict) -> bytes:
    """msg as it goes on the wire (a length, then its JSON)."""
    body = json.dumps(msg, separators=(",", ":")).encode()
    return struct.pack("<I", len(body)) + body


def send(sock: socket.socket, msg: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
    send_frames(sock, frame(msg), fds)


def send_frames(sock: socket.socket, data: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
    """Frames made by frame(), one after another (fds go with the first byte)."""
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int, fds: list[int]) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data, anc, _flags, _addr = sock.recvmsg(n - len(buf), socket.CMSG_SPACE(MAX_FDS * 4), socket.MSG_CMSG_CLOEXEC)
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                arr = array.array("i")
                arr.frombytes(cdata[: len(cdata) - (len(cdata) % arr.itemsize)])
                fds.extend(arr)
        if not data:
            raise EOFError("connection closed")
        buf += data
    return bytes(buf)


def recv(sock: socket.socket) -> tuple[dict, list[int]]:
    """Read one frame; returns the message and any file descriptors that came with it."""
    fds: list[int] = []
    (length,) = struct.unpack("<I", _recv_exact(sock, 4, fds))
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes is too large")
    body = _recv_exact(sock, length, fds)
    try:
        msg = json.loads(body)
    except ValueError as e:
        raise ProtocolError(f"bad frame: {e}") from None
    if not isinstance(msg, dict):
        raise ProtocolError("frame is not an object")
    return msg, fds


def __getattr__(name: str):
    if name in ("encode", "decode"):
        from . import wire_schema
        globals().update(encode=wire_schema.encode, decode=wire_schema.decode)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
