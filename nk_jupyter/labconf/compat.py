"""Netkit-era compatibility, decided per lab by what the lab uses (docs/compatibility.md).

Netkit's machines were old Debian, where /bin/sh was bash: labs' `#!/bin/sh` scripts may use
bash syntax (`>& file`, `[[ ]]`, `function`, `source` ...) that Debian's dash rejects. A lab
gets bash as its machines' /bin/sh when one of its `#!/bin/sh` scripts (startups, shutdowns,
and files under shared/ and machine folders) uses such syntax; any other lab keeps dash, as
Kathara's Debian images have it. (Startups run by the machine's shell, bash by default,
whatever their first line says, as in Netkit and Kathara.)
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from ..text import LazyPattern

MAX_SCRIPT = 256 << 10
BASHISMS = [(LazyPattern(p), what) for p, what in (
    (r"\[\[", "[[ ]]"),
    (r"(^|[;&|(\s])function\s+[\w-]+", "function NAME"),
    (r"(^|[;&|(\s])source\s", "source"),
    (r"<<<", "<<< here-string"),
    (r"&>", "&> redirection"),
    (r">&\s*[A-Za-z/$\"']", ">& FILE redirection"),
    (r"\$\{![\w]", "${!var}"),
    (r"\$\{\w+:-?\d", "${var:offset}"),
    (r"\$\{\w+//", "${var//pattern/}"),
    (r"(^|[;&|\s])(let|declare|typeset)\s", "let/declare"),
    (r"(^|\s)\w+=\(", "arrays"),
    (r"\becho\s+-e\b", "echo -e"),
    (r"\$RANDOM", "$RANDOM"),
    (r"\[\s+[^]]*\s==\s", "== in [ ]"),
)]


def _sh_script(data: bytes) -> bool:
    first = data.split(b"\n", 1)[0].replace(b" ", b"")
    return first in (b"#!/bin/sh", b"#!/usr/bin/sh") or first.startswith((b"#!/bin/sh-", b"#!/usr/bin/env sh"))


def bashism(text: str) -> tuple[int, str] | None:
    """(line number, what) of the first bash-only syntax in a shell script, or None."""
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#!") else ""
        for pattern, what in BASHISMS:
            if pattern.search(code):
                return number, what
    return None


def bash_as_sh(directory: Path, folders: list[Path]) -> str | None:
    """"FILE:LINE uses WHAT" for the first `#!/bin/sh` script of the lab with bash syntax, or None."""
    candidates: list[Path] = [p for p in sorted(directory.glob("*.st*")) if p.suffix in (".startup", ".shutdown")]
    for top in folders:
        for dirpath, _dirs, files in os.walk(top):
            candidates += [Path(dirpath) / f for f in sorted(files)]
    for path in candidates:
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SCRIPT:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                data = os.read(fd, MAX_SCRIPT)
            finally:
                os.close(fd)
        except OSError:
            continue
        if not _sh_script(data):
            continue
        found = bashism(data.decode("utf-8", "replace"))
        if found:
            return f"{path.relative_to(directory)}:{found[0]} uses {found[1]}"
    return None
