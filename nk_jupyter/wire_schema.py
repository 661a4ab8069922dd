"""The one schema of every nk channel (wire.py frames it): dataclasses <-> JSON."""
from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing

from .wire import ProtocolError

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
