"""The one framing every nk channel uses (RootlessKit's): a uint32 little-endian length, then a
JSON object; a frame may carry file descriptors (SCM_RIGHTS). Used by the launcher's handshake
with a supervisor, the supervisor's API socket (engine/messages.py), the zygote and each
machine's init (backends/namespaces/). Messages are dataclasses (encode/decode below).
"""
from __future__ import annotations

import array
import dataclasses
import enum
import functools
import json
import socket
import struct
import types
import typing

MAX_FRAME = 16 << 20
MAX_FDS = 64  # a lab hands its supervisor one descriptor per container image


class ProtocolError(Exception):
    pass


def send(sock: socket.socket, msg: dict, fds: list[int] | tuple[int, ...] = ()) -> None:
    body = json.dumps(msg, separators=(",", ":")).encode()
    data = struct.pack("<I", len(body)) + body
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


# -- one schema: dataclasses <-> JSON ------------------------------------------------------
# Every message on every channel is a dataclass; its annotations are its schema. encode()
# makes the JSON object, decode() checks a received one against the class (types, unknown
# and missing fields) and names what is wrong.

def encode(obj):
    """JSON-ready form of a message (dataclasses, enums, lists, dicts, plain values)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [encode(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): encode(v) for k, v in obj.items()}
    return obj


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def decode(tp, data, where: str = "message"):
    """data (parsed JSON) as an instance of tp; ProtocolError naming the bad field otherwise."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return data
    if tp in (dict, list):
        if not isinstance(data, tp):
            raise ProtocolError(f"{where}: expected {'an object' if tp is dict else 'a list'}")
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        last = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode(arg, data, where)
            except ProtocolError as e:
                last = e
        raise last or ProtocolError(f"{where}: unexpected null")
    if origin in (list, tuple):
        if not isinstance(data, list):
            raise ProtocolError(f"{where}: expected a list")
        item = args[0] if args else typing.Any
        out = [decode(item, x, f"{where}[{i}]") for i, x in enumerate(data)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(data, dict):
            raise ProtocolError(f"{where}: expected an object")
        value = args[1] if len(args) > 1 else typing.Any
        return {str(k): decode(value, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise ProtocolError(f"{where}: {data!r} is not one of {', '.join(str(m.value) for m in tp)}") from None
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ProtocolError(f"{where}: expected an object")
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp) if f.init}
        unknown = set(data) - names
        if unknown:
            raise ProtocolError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        kwargs = {name: decode(hints[name], data[name], f"{where}.{name}") for name in names if name in data}
        try:
            return tp(**kwargs)
        except TypeError as e:
            raise ProtocolError(f"{where}: {e}") from None
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if tp in (str, int, float, bool):
        if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
            raise ProtocolError(f"{where}: expected {tp.__name__}, got {type(data).__name__}")
        return data
    if tp is type(None):
        if data is not None:
            raise ProtocolError(f"{where}: expected null")
        return None
    raise TypeError(f"no JSON form for {tp!r}")
