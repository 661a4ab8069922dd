"""Text that came from a lab (names, lab.conf lines, startup logs) made safe to print.

A lab is untrusted: its folder names, lab.conf lines and machine output may hold terminal
escape sequences (ESC [ ... that move the cursor, rewrite the title, or worse) or bidi
overrides that make a line read differently. Faces pass such text through printable()
before showing it; a command's own output asked for with vcmd is passed through as is.
"""
from __future__ import annotations

import re


class LazyPattern:
    """re.compile(pattern, flags), compiled on first use: a module's patterns cost 0.1-1.5 ms
    each to compile, and most processes (a supervisor, `nk vcmd`) use few of them."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern | None = None

    def __getattr__(self, name: str):
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """str(text) with control characters (but tab and newline) and bidi overrides as \\xNN / \\uNNNN."""
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                       str(text))


class SafeStream:
    """A text stream whose writes go through printable(); raw() writes our own control
    sequences (the CLI's progress line). The CLI wraps sys.stdout and sys.stderr in these."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(printable(text))

    def raw(self, text: str) -> None:
        self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def raw_write(stream, text: str) -> None:
    """Write our own control sequences to a stream that may be a SafeStream."""
    (stream.raw if isinstance(stream, SafeStream) else stream.write)(text)


class TerminalFilter:
    """A machine's output on its way to the user's terminal, minus the control strings a
    machine could abuse: OSC (window title, clipboard writes (52), hyperlinks (8) ...), DCS,
    APC, PM and SOS strings are dropped; CSI sequences (colours, cursor moves) pass.
    keep_osc: OSC numbers allowed through (an interactive shell's titles: 0, 1, 2).
    Feed it chunks as they come: sequences may be split across them."""

    MAX_STRING = 8192

    def __init__(self, keep_osc: tuple[int, ...] = ()) -> None:
        self.keep_osc = keep_osc
        self.state = "text"   # text, esc, osc, string, string_esc, osc_esc
        self.buf = bytearray()

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for b in data:
            st = self.state
            if st == "text":
                if b == 0x1B:
                    self.state = "esc"
                else:
                    out.append(b)
            elif st == "esc":
                if b == 0x5D:                      # ESC ]  OSC
                    self.state, self.buf = "osc", bytearray(b"\x1b]")
                elif b in (0x50, 0x5F, 0x5E, 0x58):  # ESC P/_/^/X  DCS, APC, PM, SOS
                    self.state = "string"
                else:
                    out += bytes((0x1B, b))
                    self.state = "text"
            elif st in ("osc", "osc_esc"):
                self.buf.append(b)
                if b == 0x07 or (st == "osc_esc" and b == 0x5C):
                    self._end_osc(out)
                elif len(self.buf) > self.MAX_STRING:
                    self.state, self.buf = "string", bytearray()  # drop the rest of it
                else:
                    self.state = "osc_esc" if b == 0x1B else "osc"
            elif st in ("string", "string_esc"):
                if st == "string_esc" and b == 0x5C:
                    self.state = "text"
                else:
                    self.state = "string_esc" if b == 0x1B else "string"
        return bytes(out)

    def _end_osc(self, out: bytearray) -> None:
        body = bytes(self.buf[2:]).split(b";", 1)[0]
        if body.isdigit() and int(body) in self.keep_osc:
            out += self.buf
        self.state, self.buf = "text", bytearray()
