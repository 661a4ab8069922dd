"""JSON for nk's frames through CPython's own C codec (`_json`, the accelerator the standard
`json` module runs on), without importing `json`: that package loads `re`, which loads `enum`,
`functools` and `collections` (~8 ms of a new process on a slow host), and `nk vcmd` pays every
millisecond of its start per command. The text is json.dumps(obj, separators=(",", ":")) and the
values are json.loads(text)'s (tests/unit/test_cjson.py holds them to it); bytes must be UTF-8
(json.loads would also guess UTF-16/32 and allow a BOM), and error messages give no line and
column. Where `_json` is missing (another Python), the standard module does the work.
"""
from __future__ import annotations

try:
    import _json

    def _not_serializable(obj):
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    class _Decoding:
        """What the C scanner reads from json.JSONDecoder: its defaults."""
        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int = float, int
        parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__

    # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
    _encode = _json.make_encoder(None, _not_serializable, _json.encode_basestring_ascii, None, ":", ",",
                                 False, False, True)
    _scan = _json.make_scanner(_Decoding())
except (ImportError, AttributeError, TypeError):  # pragma: no cover - a Python without CPython's _json
    import json as _std

    def dumps(obj) -> str:
        return _std.dumps(obj, separators=(",", ":"))

    def loads(text: str | bytes):
        return _std.loads(text)
else:
    def dumps(obj) -> str:
        """json.dumps(obj, separators=(",", ":")): ASCII, NaN allowed, no circular check (frames
        are trees; a cycle ends in RecursionError)."""
        return "".join(_encode(obj, 0))

    def loads(text: str | bytes):
        """json.loads(text); ValueError (json.JSONDecodeError or UnicodeDecodeError) if it is not
        one JSON value."""
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        start = len(text) - len(text.lstrip(" \t\n\r"))
        try:
            value, end = _scan(text, start)
        except StopIteration as e:
            raise ValueError(f"Expecting value: char {e.value}") from None
        if text[end:].strip(" \t\n\r"):
            raise ValueError(f"Extra data: char {end}")
        return value
