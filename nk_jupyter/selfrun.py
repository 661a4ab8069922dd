"""Running a module of nk_jupyter in a new Python process (the supervisor, the podman mount
helper, the kernel's reaper), safely: a lab folder may be the current folder, and
`python -m` would put it first on sys.path, so a lab's own `nk_jupyter/` or `socket.py`
would run as the user. So: `-P` (no current folder on sys.path, for `-c` too), cwd "/", and this
package's own parent folder first on PYTHONPATH.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PKG_PARENT = str(Path(__file__).resolve().parent.parent)


def argv(module: str, *args: str) -> list[str]:
    """`python -P -c CODE MODULE ARGS...`, CODE calling MODULE.main(ARGS): as `-m MODULE` would,
    without runpy's imports, and with MODULE in the command line where `nk wipe` looks for it."""
    return [sys.executable, "-P", "-c", _MAIN.format(module=module), module, *args]


_MAIN = "import sys; from {module} import main; sys.exit(main(sys.argv[2:]))"


def env(base: dict[str, str] | None = None) -> dict[str, str]:
    """base (default: os.environ) with PYTHONPATH = this package's parent, then the user's own."""
    out = dict(os.environ if base is None else base)
    theirs = out.get("PYTHONPATH")
    out["PYTHONPATH"] = PKG_PARENT + (os.pathsep + theirs if theirs else "")
    return out


__all__ = ["argv", "env", "PKG_PARENT"]
