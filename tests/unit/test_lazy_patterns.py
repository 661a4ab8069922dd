"""nk_jupyter.text.LazyPattern: a module's regular expression, compiled when first used."""
from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys

from nk_jupyter.text import LazyPattern


def test_a_lazy_pattern_matches_as_the_compiled_one_and_compiles_once():
    lazy = LazyPattern(r"(?P<n>[0-9]+)(k|m)?", re.I)
    assert lazy._compiled is None
    m = lazy.fullmatch("12K")
    assert m and m.group("n") == "12" and m.group(2) == "K"
    first = lazy._compiled
    assert isinstance(first, re.Pattern) and first.flags & re.I
    assert lazy.fullmatch("x") is None and lazy._compiled is first
    assert lazy.sub("#", "a1b22") == "a#b#" and lazy.pattern == r"(?P<n>[0-9]+)(k|m)?"


def _nk_patterns() -> list[tuple[str, LazyPattern]]:
    import nk_jupyter
    for info in pkgutil.walk_packages(nk_jupyter.__path__, "nk_jupyter."):
        if not info.name.endswith(("__main__", "mounter", "reaper")):
            importlib.import_module(info.name)
    out = []
    for mod in list(sys.modules.values()):
        if not mod.__name__.startswith("nk_jupyter"):
            continue
        for name, value in vars(mod).items():
            values = [v for v, _ in value] if isinstance(value, list) and value and isinstance(value[0], tuple) else [value]
            out += [(f"{mod.__name__}.{name}", v) for v in values if isinstance(v, LazyPattern)]
    return out


def test_every_lazy_pattern_of_nk_compiles():
    """A mistake in a pattern would show only at its first use (a port in lab.conf, a startup's
    stderr line): compile every one here."""
    found = _nk_patterns()
    assert len(found) >= 8
    for where, lazy in found:
        assert isinstance(lazy.search, type(re.compile("").search)), where


def test_a_supervisor_compiles_none_of_them_at_import():
    code = ("import sys, nk_jupyter.engine.supervisor as s, nk_jupyter.api; s._preload(); "
            "from nk_jupyter.text import LazyPattern; "
            "print(sum(isinstance(v, LazyPattern) and v._compiled is not None for m in list(sys.modules.values()) "
            "if m.__name__.startswith('nk_jupyter') for v in vars(m).values()))")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"
