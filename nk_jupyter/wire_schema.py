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

_PLAIN = (str, int, float, bool, type(None))


def encode(obj):
    """JSON-ready form of a message (dataclasses, enums, lists, dicts, plain values)."""
    if type(obj) in _PLAIN:
        return obj
    try:
        return _ENCODERS[type(obj)](obj)
    except KeyError:
        return _encoder(type(obj))(obj)


# Each type's codec is made once (a boot sends every machine's stages and orders and each
# machine's events to the client): no typing or dataclasses look-ups per value.
_ENCODERS: dict = {}


def _encoder(t: type):
    if dataclasses.is_dataclass(t):
        names = tuple(f.name for f in dataclasses.fields(t))

        def enc(obj):
            return {n: encode(getattr(obj, n)) for n in names}
    elif issubclass(t, enum.Enum):
        def enc(obj):
            return obj.value
    elif issubclass(t, (list, tuple)):
        def enc(obj):
            return [encode(x) for x in obj]
    elif issubclass(t, dict):
        def enc(obj):
            return {str(k): encode(v) for k, v in obj.items()}
    else:
        def enc(obj):
            return obj
    _ENCODERS[t] = enc
    return enc


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)


def decode(tp, data, where: str = "message"):
    """data (parsed JSON) as an instance of tp; ProtocolError naming the bad field otherwise."""
    return _decoder(tp)(data, where)


@functools.lru_cache(maxsize=None)
def _decoder(tp):
    """The function (data, where) -> value checking data against tp, made once per type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any:
        return lambda data, where: data
    if tp in (dict, list):
        def dec(data, where):
            if not isinstance(data, tp):
                raise ProtocolError(f"{where}: expected {'an object' if tp is dict else 'a list'}")
            return data
        return dec
    if origin in (typing.Union, types.UnionType):
        nullable = type(None) in args
        options = [arg for arg in args if arg is not type(None)]

        def dec(data, where):
            if data is None and nullable:
                return None
            last = None
            for arg in options:
                try:
                    return _decoder(arg)(data, where)
                except ProtocolError as e:
                    last = e
            raise last or ProtocolError(f"{where}: unexpected null")
        return dec
    if origin in (list, tuple):
        item = args[0] if args else typing.Any
        as_tuple = origin is tuple

        def dec(data, where):
            if not isinstance(data, list):
                raise ProtocolError(f"{where}: expected a list")
            each = _decoder(item)
            out = [each(x, f"{where}[{i}]") for i, x in enumerate(data)]
            return tuple(out) if as_tuple else out
        return dec
    if origin is dict:
        value = args[1] if len(args) > 1 else typing.Any

        def dec(data, where):
            if not isinstance(data, dict):
                raise ProtocolError(f"{where}: expected an object")
            each = _decoder(value)
            return {str(k): each(v, f"{where}.{k}") for k, v in data.items()}
        return dec
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        def dec(data, where):
            try:
                return tp(data)
            except ValueError:
                raise ProtocolError(f"{where}: {data!r} is not one of {', '.join(str(m.value) for m in tp)}") from None
        return dec
    if dataclasses.is_dataclass(tp):
        names = frozenset(f.name for f in dataclasses.fields(tp) if f.init)
        fields: list = []  # (name, decoder), filled on first use: a class may contain itself

        def dec(data, where):
            if not isinstance(data, dict):
                raise ProtocolError(f"{where}: expected an object")
            if not fields:
                hints = _hints(tp)
                fields.extend((n, _decoder(hints[n])) for n in sorted(names))
            if not names.issuperset(data):
                raise ProtocolError(f"{where}: unknown field(s) {', '.join(sorted(set(data) - names))}")
            kwargs = {n: d(data[n], f"{where}.{n}") for n, d in fields if n in data}
            try:
                return tp(**kwargs)
            except TypeError as e:
                raise ProtocolError(f"{where}: {e}") from None
        return dec
    if tp is float:
        def dec(data, where):
            if isinstance(data, int) and not isinstance(data, bool):
                return float(data)
            if not isinstance(data, float):
                raise ProtocolError(f"{where}: expected float, got {type(data).__name__}")
            return data
        return dec
    if tp in (str, int, bool):
        def dec(data, where):
            if not isinstance(data, tp) or (tp is int and isinstance(data, bool)):
                raise ProtocolError(f"{where}: expected {tp.__name__}, got {type(data).__name__}")
            return data
        return dec
    if tp is type(None):
        def dec(data, where):
            if data is not None:
                raise ProtocolError(f"{where}: expected null")
            return None
        return dec
    raise TypeError(f"no JSON form for {tp!r}")
