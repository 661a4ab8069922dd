"""The JupyterLab extension in a real browser: the Labs sidebar lists a lab started from the
CLI and one started from a notebook, follows their states live, opens a terminal inside a
machine on a click, halts a lab from its button, and shows a lab's topology as a panel.
Also the server extension's REST checks. Screenshots go to tests/artifacts/labext-*.png."""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from ..conftest import nk
from .browser import CHROMIUM, CHROMIUM_ARGS, JupyterLab, browser_reason
from .conftest import artifacts_dir, needs_labs

REASON = browser_reason()
NB_LAB = "%%lab nbside --no-topo\nn1[0]=A\nn2[0]=A\n"


def _extension_reason() -> str | None:
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True)
    if "nk-jupyter-labextension" not in out.stdout + out.stderr:
        return "the nk-jupyter labextension is not installed (scripts/install.sh builds it)"
    return None


@pytest.fixture
def cli_lab(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n", "pc1.startup": "ip addr add 10.0.0.1/24 dev eth0\n"},
                      name="clilab")
    folder.chmod(0o777)  # machine root writes the terminal's proof into /hostlab
    r = nk("lstart", "-d", str(folder))
    assert r.returncode == 0, r.stderr
    yield folder
    nk("lcrash", "-d", str(folder))
    nk("lclean", "-d", str(folder))


@pytest.fixture
def server(jupyter_env, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    nb = new_notebook(cells=[new_code_cell(NB_LAB)], metadata={
        "kernelspec": {"name": "nk-lab", "display_name": "Netkit Lab (Python 3)", "language": "python"}})
    nbformat.write(nb, root / "side.ipynb")
    lab = JupyterLab(root, jupyter_env)
    yield lab
    lab.stop()
    from nk_jupyter.api import running_labs, stop
    for running in running_labs():
        if str(running.directory).endswith("/text-labs/nbside"):
            stop(running.directory)


def _machine(page, lab: str, machine: str):
    return page.locator(f'.nk-Lab[data-lab="{lab}"] .nk-Machine[data-machine="{machine}"]')


def _wait_state(page, lab: str, machine: str, state: str, timeout: float = 15) -> float:
    t0 = time.monotonic()
    _machine(page, lab, machine).and_(page.locator(f".nk-state-{state}")).wait_for(timeout=timeout * 1000)
    return time.monotonic() - t0


def _rest(server, path: str, body: dict | None = None, token: bool = True) -> tuple[int, dict]:
    url = server.url(f"/nk/api/{path}") if token else f"http://127.0.0.1:{server.port}/nk/api/{path}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}


@needs_labs
@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.skipif(_extension_reason() is not None, reason=_extension_reason() or "")
def test_sidebar_terminal_topology_and_actions(server, cli_lab):
    from playwright.sync_api import sync_playwright
    shots = artifacts_dir()
    # the REST side first: the server's own authentication, names only
    assert _rest(server, "labs", token=False)[0] == 403
    status, listed = _rest(server, "labs")
    assert status == 200 and any(lab["name"] == "clilab" for lab in listed["labs"])
    assert _rest(server, "terminals", {"directory": str(cli_lab), "machine": "pc1; touch /tmp/x"})[0] == 404
    assert _rest(server, "terminals", {"directory": "/etc", "machine": "pc1"})[0] == 404
    assert _rest(server, "labs/action", {"directory": str(cli_lab), "action": "rm -rf"})[0] == 400
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(server.url(f"/lab/workspaces/s{uuid.uuid4().hex[:8]}/tree/side.ipynb?reset"))
            page.locator(".jp-Notebook >> visible=true").wait_for(timeout=60_000)
            page.get_by_text(re.compile(r"Netkit Lab \(Python 3\) \| Idle")).wait_for(timeout=60_000)
            page.locator('.lm-TabBar-tab[title="Netkit labs"]').click()
            _wait_state(page, "clilab", "pc1", "running")
            # a lab started from the notebook appears, live
            page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            took = _wait_state(page, "nbside", "n2", "running", timeout=30)
            page.screenshot(path=str(shots / "labext-1-sidebar.png"))
            # a change made from a terminal shows within a few seconds
            assert nk("vhalt", "-d", str(cli_lab), "pc2").returncode == 0
            assert _wait_state(page, "clilab", "pc2", "halted", timeout=10) < 6
            # a click on a machine opens a terminal inside it, named after machine and lab
            _machine(page, "clilab", "pc1").locator(".nk-Machine-name").click()
            tab = page.locator(".lm-TabBar-tab", has_text="pc1 · clilab")
            tab.wait_for(timeout=20_000)
            page.locator(".jp-Terminal >> visible=true").wait_for(timeout=20_000)
            time.sleep(1.5)
            page.locator(".jp-Terminal >> visible=true").click()
            page.keyboard.type("hostname > /hostlab/from-terminal.txt\n")
            proof = cli_lab / "from-terminal.txt"
            end = time.monotonic() + 15
            while not (proof.exists() and proof.read_text().strip()) and time.monotonic() < end:
                time.sleep(0.2)
            assert proof.read_text().strip() == "pc1"
            assert tab.is_visible(), "the terminal's tab keeps the machine's name"
            page.screenshot(path=str(shots / "labext-2-terminal.png"))
            # the topology as a panel: the same drawing as the cell widget, details on click
            page.locator('.nk-Lab[data-lab="clilab"] .nk-Button-topology').click()
            page.locator(".nk-TopologyPanel canvas").first.wait_for(timeout=20_000)
            time.sleep(1.0)
            nodes = page.evaluate("""() => {
              const el = document.querySelector('.nk-TopologyPanel-graph');
              const cy = el && el._cyreg && el._cyreg.cy;
              if (!cy) return null;
              const box = el.getBoundingClientRect();
              return cy.nodes().map(n => ({id: n.id(), x: box.left + n.renderedPosition().x,
                                            y: box.top + n.renderedPosition().y}));
            }""")
            assert nodes and {n["id"] for n in nodes} == {"m:pc1", "m:pc2", "d:A"}, nodes
            pc1 = next(n for n in nodes if n["id"] == "m:pc1")
            page.mouse.click(pc1["x"], pc1["y"])
            page.locator(".nk-TopologyPanel-details", has_text="10.0.0.1/24").wait_for(timeout=10_000)
            page.screenshot(path=str(shots / "labext-3-topology.png"))
            # the lab's halt button halts it
            if not page.locator("#nk-labs").is_visible():
                page.locator('.lm-TabBar-tab[title="Netkit labs"]').click()
            page.locator('.nk-Lab[data-lab="clilab"] .nk-Button-halt').first.click()
            page.locator('.nk-Lab:not(.nk-Lab-halted)[data-lab="clilab"]').wait_for(state="detached", timeout=40_000)
            from nk_jupyter.api import running_labs
            assert all(r.directory != cli_lab for r in running_labs())
            # halted, its files kept: listed apart, and its start button boots it again
            halted = page.locator(f'.nk-Lab-halted[title="{cli_lab}"]')
            halted.wait_for(timeout=10_000)
            page.screenshot(path=str(shots / "labext-4-halted.png"))
            halted.locator(".nk-Button-start").click()
            _wait_state(page, "clilab", "pc1", "running", timeout=40)
            assert any(r.directory == cli_lab for r in running_labs())
        finally:
            page.screenshot(path=str(shots / "labext-last.png"))
            browser.close()
    assert took < 30
