"""Files nk puts in every machine (shims/): what the engine reads of them itself."""
from __future__ import annotations

from pathlib import Path

SHIMS = Path(__file__).resolve().parent / "shims"


def packages() -> dict[str, str]:
    """program -> Debian 12 package, from shims/share/packages.tsv ("-" entries left out)."""
    out = {}
    for line in (SHIMS / "share" / "packages.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] != "-":
                out[parts[0]] = parts[1]
    return out
