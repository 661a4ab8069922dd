"""Text that came from a lab (names, lab.conf lines, startup logs) made safe to print.

A lab is untrusted: its folder names, lab.conf lines and machine output may hold terminal
escape sequences (ESC [ ... that move the cursor, rewrite the title, or worse) or bidi
overrides that make a line read differently. Faces pass such text through printable()
before showing it; a command's own output asked for with vcmd is passed through as is.
"""
from __future__ import annotations

import re

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
