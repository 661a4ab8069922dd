"""What the wheel carries: every file nk puts into machines must survive a non-editable install."""
from pathlib import Path

import nk_jupyter

SHIMS = Path(nk_jupyter.__file__).parent / "backends" / "namespaces" / "shims"


def test_no_symlinks_in_shims():
    """A wheel build drops symlinks whose target it does not hold (init script aliases are made
    by the template instead): none may hide in shims/."""
    links = [str(p.relative_to(SHIMS)) for p in SHIMS.rglob("*") if p.is_symlink()]
    assert links == []


def test_init_aliases_are_made(tmp_path):
    from nk_jupyter.backends.namespaces import template
    (tmp_path / "etc" / "init.d").mkdir(parents=True)
    (tmp_path / "etc" / "init.d" / "named").write_text("#!/bin/sh\n")
    template._init_aliases(tmp_path)
    assert (tmp_path / "etc" / "init.d" / "bind").resolve() == (tmp_path / "etc" / "init.d" / "named")
    assert (tmp_path / "etc" / "init.d" / "zebra").is_symlink()
