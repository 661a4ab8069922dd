"""Helpers for the real-browser test: a JupyterLab server and a Playwright-driven page.

The server is started by the test as the current (ordinary) user, on a random port with
a random token and --no-browser; Debian's chromium is driven by Playwright for Python
(`playwright install` cannot download browsers here, so executable_path is given).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from nk_jupyter.linux import spawn

from ..net import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def browser_reason() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not shutil.which(CHROMIUM):
        return "Debian chromium is not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return "jupyterlab is not installed"
    return None


class JupyterLab:
    """`jupyter lab` serving root on 127.0.0.1; stop() ends it (and its kernels)."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(16)
        settings = root.parent / "lab-settings"
        tracker = settings / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True, exist_ok=True)
        # render every cell (no virtual windowing), so off-screen outputs exist in the DOM
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        news = settings / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        self.log = open(root.parent / "jupyterlab.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             f"--ServerApp.token={self.token}", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **env, "JUPYTERLAB_SETTINGS_DIR": str(settings)},
            start_new_session=True)
        self.wait_ready()

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("jupyter lab exited; see jupyterlab.log")
            try:
                with urllib.request.urlopen(self.url("/api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("jupyter lab did not answer")

    def stop(self) -> None:
        spawn.stop(self.proc, grace=20)
        self.log.close()


# JavaScript run in the page: the cytoscape instance of the topology view (test-only).
CY_NODES = """() => {
  const el = [...document.querySelectorAll('.jp-OutputArea div')].find(d => d._cyreg && d._cyreg.cy);
  if (!el) return null;
  const cy = el._cyreg.cy, box = el.getBoundingClientRect();
  return cy.nodes().map(n => ({id: n.id(), label: n.data('label'), classes: n.classes().join(' '),
    x: box.left + n.renderedPosition().x, y: box.top + n.renderedPosition().y,
    px: n.position().x, py: n.position().y,
    canvas: el.querySelectorAll('canvas').length}));
}"""

CY_EDGES = """() => {
  const el = [...document.querySelectorAll('.jp-OutputArea div')].find(d => d._cyreg && d._cyreg.cy);
  return el ? el._cyreg.cy.edges().map(e => ({id: e.id(), visible: e.visible(), label: e.data('label')})) : null;
}"""
