"""Fixtures for the Jupyter tests: the real "nk-lab" kernelspec, real kernels, artifacts.

Everything runs for real: the kernelspec is installed (python -m
nk_jupyter.jupyter.kernelspec install --prefix TMP) into a private Jupyter path, kernels
are started by jupyter_client, and labs boot in user namespaces. Tests that boot labs
are skipped, with the reason, where user namespaces are unavailable.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nk_jupyter
from ..conftest import userns_reason

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PKG_PARENT = str(Path(nk_jupyter.__file__).resolve().parent.parent)
REASON = userns_reason()
needs_labs = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def artifacts_dir() -> Path:
    """tests/artifacts (gitignored), or a temp folder when the checkout is read-only."""
    path = ROOT / "tests" / "artifacts"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".probe"
        probe.touch()
        probe.unlink()
        return path
    except OSError:
        alt = Path(os.environ.get("TMPDIR", "/tmp")) / f"nk-artifacts-{os.getuid()}"
        alt.mkdir(parents=True, exist_ok=True)
        return alt


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory) -> dict[str, str]:
    """Environment (also applied to os.environ) in which the nk-lab kernelspec exists."""
    base = tmp_path_factory.mktemp("jupyter")
    prefix = base / "prefix"
    env = {"PYTHONPATH": PKG_PARENT + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")}
    subprocess.run([sys.executable, "-m", "nk_jupyter.jupyter.kernelspec", "install", "--prefix", str(prefix),
                    "--env", f"PYTHONPATH={env['PYTHONPATH']}"], check=True, env={**os.environ, **env},
                   capture_output=True)
    env.update({
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    })
    if not os.access(os.environ.get("HOME", "/nonexistent"), os.W_OK):
        env["HOME"] = str(base / "home")
        Path(env["HOME"]).mkdir()
    os.environ.update(env)
    return env


class Kernel:
    """A started nk-lab kernel and a blocking client; run(code) returns the outputs."""

    def __init__(self, km, kc) -> None:
        self.km, self.kc = km, kc

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid

    def run(self, code: str, timeout: float = 120) -> list[dict]:
        outputs: list[dict] = []
        self.kc.execute_interactive(code, timeout=timeout, output_hook=lambda msg: outputs.append(msg))
        return [dict(m["content"], msg_type=m["msg_type"]) for m in outputs
                if m["msg_type"] in ("stream", "error", "execute_result", "display_data")]

    @staticmethod
    def text(outputs: list[dict], name: str = "stdout") -> str:
        return "".join(o["text"] for o in outputs if o["msg_type"] == "stream" and o["name"] == name)

    @staticmethod
    def error(outputs: list[dict]) -> dict | None:
        return next((o for o in outputs if o["msg_type"] == "error"), None)


def start_kernel(cwd: str | None = None) -> Kernel:
    from jupyter_client import KernelManager
    km = KernelManager(kernel_name="nk-lab")
    km.start_kernel(cwd=cwd or str(ROOT))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return Kernel(km, kc)


@pytest.fixture
def kernel(jupyter_env):
    k = start_kernel()
    yield k
    k.kc.stop_channels()
    if k.km.is_alive():
        k.km.shutdown_kernel(now=False)


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
