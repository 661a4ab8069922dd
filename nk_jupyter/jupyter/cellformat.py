"""The `%%lab` cell format: a whole small lab (lab.conf plus files) in one cell.

    %%lab lan
    LAB_DESCRIPTION="two hosts on one LAN"
    pc1[0]=A
    pc2[0]=A

    --- pc1.startup ---
    ip addr add 10.0.0.1/24 dev eth0

    --- pc2.startup ---
    ip addr add 10.0.0.2/24 dev eth0

    --- r1/etc/frr/frr.conf ---
    router ospf
     network 10.0.0.0/8 area 0

Rules:
- Everything before the first header is lab.conf.
- A header is a line `--- PATH ---` (dashes, a space, a relative path, a space, dashes).
  The lines after it, up to the next header, are the content of PATH in the lab folder:
  `NAME.startup`, `NAME.shutdown`, `shared.startup`, `lab.dep`, or a file a machine
  finds at boot, e.g. `pc1/etc/hosts` (copied to /etc/hosts of pc1).
- Blank lines at the end of a section are dropped; contents end with one newline.
- `--- lab.conf ---` may name lab.conf explicitly; then nothing may precede it.

parse_cell returns a LabCell that knows which cell line every file line came from, so
LabConfError messages ("lab.conf:2: ...") can be shown as cell lines.
"""
from __future__ import annotations

import re
from ..records import dataclass, field
from pathlib import PurePosixPath

from ..errors import LabConfError, UserError

HEADER = re.compile(r"^---\s+(?P<path>\S+)\s+---\s*$")
LOOKS_LIKE_HEADER = re.compile(r"^-{2,}\s*[\w./-]*[\w.]\s*-{2,}\s*$")
LAB_CONF = "lab.conf"


class CellError(UserError):
    """A malformed %%lab cell; the message names the cell line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"%%lab cell, line {line}: {message}")


@dataclass
class LabCell:
    """A parsed cell: lab.conf text, other files, and where each file starts in the cell.

    first_line maps a file path to the cell line (1 = the `%%lab` line) of the file's
    first content line.
    """

    lab_conf: str
    files: dict[str, str] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)

    def cell_line(self, path: str, line: int) -> int | None:
        """The cell line of line `line` (1-based) of file `path`, None if unknown."""
        start = self.first_line.get(path)
        return None if start is None else start + line - 1

    def translate(self, err: LabConfError, folder: str) -> UserError:
        """A LabConfError about a file of this cell, restated with the cell line."""
        rel = _relative(err.path, folder)
        if rel is None:
            return err
        where = self.cell_line(rel, err.line) if err.line else None
        if where is None:
            return UserError(f"%%lab cell ({rel}): {err.message}")
        return CellError(where, f"{err.message} ({rel} line {err.line})")


def _relative(path: str, folder: str) -> str | None:
    try:
        return str(PurePosixPath(path).relative_to(folder))
    except ValueError:
        return None


def _check_path(path: str, line: int) -> str:
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise CellError(line, f"{path!r}: file names are relative to the lab folder, without '..'")
    if not re.fullmatch(r"[A-Za-z0-9_.@+/-]+", path):
        raise CellError(line, f"{path!r}: use letters, digits and . _ - / @ + in file names")
    return str(p)


def parse_cell(body: str, first_body_line: int = 2) -> LabCell:
    """Split a %%lab cell body into lab.conf and files.

    first_body_line is the cell line of the body's first line (2: right after `%%lab`).
    Raises CellError for a malformed header, a repeated file or an empty cell.
    """
    sections: list[tuple[str, int, list[str]]] = [(LAB_CONF, first_body_line, [])]
    seen: dict[str, int] = {}
    for offset, line in enumerate(body.splitlines()):
        number = first_body_line + offset
        match = HEADER.match(line)
        if match is None:
            if LOOKS_LIKE_HEADER.match(line):
                raise CellError(number, f"malformed file header {line.strip()!r}; write '--- PATH ---'")
            sections[-1][2].append(line)
            continue
        path = _check_path(match["path"], number)
        if path == LAB_CONF:
            if any(s.strip() for s in sections[0][2]) or len(sections) > 1:
                raise CellError(number, "'--- lab.conf ---' must come first (text above it already is lab.conf)")
            sections[0] = (LAB_CONF, number + 1, [])
            seen[path] = number
            continue
        if path in seen:
            raise CellError(number, f"{path} appears twice (first on line {seen[path]})")
        seen[path] = number
        sections.append((path, number + 1, []))
    cell = LabCell(lab_conf="")
    for path, start, lines in sections:
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines) + "\n" if lines else ""
        cell.first_line[path] = start
        if path == LAB_CONF:
            cell.lab_conf = text
        else:
            cell.files[path] = text
    if not cell.lab_conf.strip() and not any(p.endswith(".startup") or "/" in p for p in cell.files):
        raise CellError(first_body_line, "the cell defines no machine; start with lab.conf lines such as pc1[0]=A")
    return cell
