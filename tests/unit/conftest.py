"""Helpers for the parser tests: the fixture labs and a builder for labs in tmp_path."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

PARSER_LABS = Path(__file__).resolve().parent.parent / "labs" / "parser"


@pytest.fixture
def fixture_lab() -> Callable[[str], Path]:
    """The path of tests/labs/parser/<case>."""
    def path(case: str) -> Path:
        lab = PARSER_LABS / case
        assert lab.is_dir(), lab
        return lab
    return path


@pytest.fixture
def make_lab(tmp_path: Path) -> Callable[..., Path]:
    """Write a lab in tmp_path: files maps relative paths to text (None makes a folder)."""
    def make(files: dict[str, str | bytes | None], name: str = "lab") -> Path:
        root = tmp_path / name
        root.mkdir()
        for rel, content in files.items():
            path = root / rel
            if content is None:
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return root
    return make
