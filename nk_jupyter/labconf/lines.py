"""Shared pieces of the lab-file parsers: names, quoted values (reading: labconf/files.py)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from nk_jupyter.errors import LabConfError
from nk_jupyter.model.names import DOMAIN_NAME, MACHINE_NAME, RESERVED_NAMES, machine_name_problem  # noqa: F401
MAC_ADDRESS = re.compile(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")
# `x[..]=` inside a value: two assignments glued on one line.
_GLUED = re.compile(r"[^\s\[\]=]\[[^\]]*\]\s*=")


class Unparsable(Exception):
    """A line that fits no rule; the caller reports "cannot parse: LINE" with its number."""

    def __init__(self, hint: str = "") -> None:
        super().__init__(hint)
        self.hint = hint


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of each line that is not blank or a `#` comment."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def check_machine_name(name: str, path: Path, line: int | None) -> None:
    problem = machine_name_problem(name)
    if problem:
        raise LabConfError(path, line, problem)


def split_value(rest: str) -> str:
    """The value after `=`: one pair of matching quotes stripped, an inline comment dropped.

    An inline comment is `#` after whitespace (Kathara). Unquoted values are verbatim;
    Unparsable for unbalanced quotes, text after the closing quote, or a glued assignment.
    """
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        if end < 0:
            raise Unparsable("unbalanced quotes")
        tail = rest[end + 1:]
        if tail and not re.fullmatch(r"\s+#.*", tail, re.S):
            raise Unparsable("text after the closing quote")
        return rest[1:end]
    value = re.split(r"\s+#", rest, maxsplit=1)[0].rstrip()
    if _GLUED.search(value):
        raise Unparsable("two assignments on one line?")
    if value.count('"') % 2 or value.count("'") % 2:
        raise Unparsable("unbalanced quotes")
    return value
