"""The layering, checked on the source: faces reach the engine only through nk_jupyter.api;
the lower floors never import the upper ones. (An import of a forbidden package anywhere in a
module, at its top or inside a function, fails this test.)"""
from __future__ import annotations

import ast
from pathlib import Path

import nk_jupyter

PKG = Path(nk_jupyter.__file__).parent
FACES = ("cli", "jupyter", "grading")
# what each package may not import (by first component below nk_jupyter)
FORBIDDEN = {
    **{face: {"engine", "backends", "uplinks", "linux", "wire", "wire_schema"} for face in FACES},
    "model": {"labconf", "engine", "backends", "uplinks", "linux", "api", *FACES},
    "labconf": {"engine", "backends", "uplinks", "api", *FACES},
    "linux": {"engine", "backends", "uplinks", "labconf", "api", *FACES},
    "backends": {"engine", "uplinks", "api", *FACES},
    "uplinks": {"engine", "backends", "labconf", "api", *FACES},
    "engine": {"api", *FACES},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, nk_jupyter sub-package) of every import in a module."""
    here = list(path.relative_to(PKG).parts[:-1])  # the package the module is in
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1] if node.level > 1 else here
                parts = base + (node.module.split(".") if node.module else [])
                names = [parts] if node.module else [base + [a.name] for a in node.names]
            elif node.module and node.module.startswith("nk_jupyter"):
                names = [node.module.split(".")[1:]]
            else:
                continue
            for parts in names:
                if parts:
                    out.append((node.lineno, parts[0]))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("nk_jupyter."):
                    out.append((node.lineno, a.name.split(".")[1]))
    return out


def test_no_layer_imports_what_it_must_not():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        top = path.relative_to(PKG).parts[0]
        if top not in FORBIDDEN:
            continue
        for line, target in _imports(path):
            if target in FORBIDDEN[top] and target != top:
                bad.append(f"{path.relative_to(PKG)}:{line} imports {target}")
    assert bad == []


def test_the_checker_sees_relative_imports(tmp_path):
    """The test above would pass vacuously if it missed imports: it finds the API's own."""
    found = {t for _, t in _imports(PKG / "api.py")}
    assert {"engine", "model", "errors"} <= found  # (labconf and launch are imported lazily, by name)
    assert ("engine" not in {t for _, t in _imports(PKG / "cli" / "lab_cmds.py")})
