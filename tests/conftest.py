"""Shared fixtures: lab folders written into tmp_path, and a guard that nothing of ours leaks."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# No test pulls an image from a registry: every pull is blocked at once, on this machine.
os.environ["CONTAINERS_REGISTRIES_CONF"] = str(Path(__file__).with_name("registries.conf"))


def userns_reason() -> str | None:
    """Why labs cannot run here, or None."""
    try:
        res = subprocess.run(["unshare", "--user", "--map-root-user", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unshare not usable: {e}"
    if res.returncode != 0:
        return "unprivileged user namespaces are not available: " + res.stderr.decode().strip()
    return None


@pytest.fixture
def make_lab(tmp_path):
    """make_lab({"lab.conf": "...", "pc1.startup": "..."}) -> lab folder Path."""
    def make(files: dict[str, str], name: str = "lab") -> Path:
        root = tmp_path / name
        root.mkdir()
        for rel, content in files.items():
            p = root / rel
            if rel.endswith("/"):
                p.mkdir(parents=True, exist_ok=True)
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(content).lstrip("\n"))
        return root
    return make


def nk(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the nk CLI as a user would."""
    return subprocess.run([sys.executable, "-m", "nk_jupyter", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
