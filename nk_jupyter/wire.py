"""The one framing every nk channel uses (RootlessKit's): a uint32 little-endian length, then a
JSON object; a frame may carry file descriptors (SCM_RIGHTS). Used by the launcher's handshake
with a supervisor, the supervisor's API socket (engine/messages.py) and each
machine's init (backends/namespaces/). Messages are dataclasses: wire.encode and wire.decode
(wire_schema.py) are loaded on first use, so a client that only frames (nk vcmd's fast door)
starts without dataclasses and typing.
"""
from __future__ import annotations

import _socket  # (its constants: `socket` itself loads enum, ~3 ms of nk vcmd's start)
import struct  # (descriptors are packed with struct, not array: array loads collections)

from . import cjson

TYPE_CHECKING = False  # (typing.TYPE_CHECKING without importing typing)
if TYPE_CHECKING:
    import socket

MAX_FRAME = 16 << 20
MAX_FDS = 64  # a lab hands its supervisor one descriptor per container image


class ProtocolError(Exception):
    pass


def frame(msg: dict) -> bytes:
    """msg as it goes on the wire (a length, then its JSON)."""
    body = cjson.dumps(msg).encode()
    return struct.pack("<I", len(body)) + body


def send(sock: socket.socket, msg: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
    send_frames(sock, frame(msg), fds)


def send_frames(sock: socket.socket, data: bytes, fds: list[int] | tuple[int, ...] = ()) -> None:
    """Frames made by frame(), one after another (fds go with the first byte)."""
    if fds:
        sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))])
    else:
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int, fds: list[int]) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data, anc, _flags, _addr = sock.recvmsg(n - len(buf), _socket.CMSG_SPACE(MAX_FDS * 4), _socket.MSG_CMSG_CLOEXEC)
        for level, kind, cdata in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.extend(struct.unpack(f"{len(cdata) // 4}i", cdata[: len(cdata) - len(cdata) % 4]))
        if not data:
            raise EOFError("connection closed")
        buf += data
    return bytes(buf)


def recv(sock: socket.socket) -> tuple[dict, list[int]]:
    """Read one frame; returns the message and any file descriptors that came with it."""
    fds: list[int] = []
    try:
        (length,) = struct.unpack("<I", _recv_exact(sock, 4, fds))
        if length > MAX_FRAME:
            raise ProtocolError(f"frame of {length} bytes is too large")
        body = _recv_exact(sock, length, fds)
        try:
            msg = cjson.loads(body)
        except (ValueError, RecursionError) as e:  # (nesting deeper than the interpreter's limit)
            raise ProtocolError(f"bad frame: {type(e).__name__}: {str(e)[:200]}") from None
        if not isinstance(msg, dict):
            raise ProtocolError("frame is not an object")
    except BaseException:  # a bad frame's descriptors are not kept open
        for fd in fds:
            _close(fd)
        raise
    return msg, fds


def _close(fd: int) -> None:
    import os
    try:
        os.close(fd)
    except OSError:
        pass


def __getattr__(name: str):
    if name in ("encode", "decode"):
        from . import wire_schema
        globals().update(encode=wire_schema.encode, decode=wire_schema.decode)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
