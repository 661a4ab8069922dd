"""A real JupyterLab in a real browser: the topology widget renders and updates live, a
click shows a machine's details, %vcmd output appears progressively, and the interrupt
button stops a long command. Screenshots go to tests/artifacts/."""
from __future__ import annotations

import re
import time
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .browser import CHROMIUM, CHROMIUM_ARGS, CY_EDGES, CY_NODES, JupyterLab, browser_reason
from .conftest import artifacts_dir, needs_labs

REASON = browser_reason()
LAB = """%%lab ui
pc1[0]=A
pc2[0]=A
r1[0]=A
r1[1]=B
--- pc1.startup ---
ip addr add 10.0.0.1/24 dev eth0
--- pc2.startup ---
ip addr add 10.0.0.2/24 dev eth0
--- r1.startup ---
ip addr add 10.0.0.254/24 dev eth0
ip addr add 10.0.1.254/24 dev eth1"""
CELLS = [LAB, "%vcmd pc1 ping -c 3 10.0.0.2", "%vcmd pc1 echo started; sleep 60; echo never", "%vhalt pc2",
         "%vlist", "%vconfig r1 --eth1=none"]


@pytest.fixture
def lab_server(jupyter_env, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS], metadata={
        "kernelspec": {"name": "nk-lab", "display_name": "Netkit Lab (Python 3)", "language": "python"}})
    nbformat.write(nb, root / "ui.ipynb")
    server = JupyterLab(root, jupyter_env)
    yield server
    server.stop()
    from nk_jupyter.api import running_labs, stop
    for running in running_labs():  # normally stopped already, by the kernel's exit
        if str(running.directory).endswith("/text-labs/ui"):
            stop(running.directory)


def open_notebook(page, server, tries: int = 3) -> None:
    """Open ui.ipynb in a fresh workspace; retry when JupyterLab fails to load a chunk
    (seen once on a loaded machine: "Renderer Failure ... Loading chunk failed")."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    for attempt in range(tries):
        page.goto(server.url(f"/lab/workspaces/t{uuid.uuid4().hex[:8]}/tree/ui.ipynb?reset"))
        try:
            page.locator(".jp-Notebook >> visible=true").wait_for(timeout=40_000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def output_text(page, index: int) -> str:
    area = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")
    return area.inner_text() if area.count() else ""


def run_cell(page, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def wait_text(page, index: int, pattern: str, timeout: float = 60) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = output_text(page, index)
        if re.search(pattern, text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"cell {index}: {pattern!r} not in output:\n{output_text(page, index)}")


def cy_nodes(page, timeout: float = 30) -> list[dict]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        nodes = page.evaluate(CY_NODES)
        if nodes:
            return nodes
        time.sleep(0.2)
    raise AssertionError("no cytoscape graph in the page")


def settled_node(page, node_id: str, timeout: float = 10) -> dict:
    """A node where it is on the page once two looks 0.2 s apart agree."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        now = {n["id"]: n for n in cy_nodes(page)}[node_id]
        if last and abs(now["x"] - last["x"]) < 1 and abs(now["y"] - last["y"]) < 1:
            return now
        last = now
        time.sleep(0.2)
    return last


@needs_labs
@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_notebook_in_a_real_browser(lab_server):
    from playwright.sync_api import sync_playwright
    shots = artifacts_dir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            open_notebook(page, lab_server)
            page.get_by_text(re.compile(r"Netkit Lab \(Python 3\) \| Idle")).wait_for(timeout=60_000)

            # 1. %%lab: progress, then the topology graph on a canvas with the machines' labels
            run_cell(page, 0)
            wait_text(page, 0, r"Lab 'ui' started: 3 of 3 machines running")
            nodes = {n["id"]: n for n in cy_nodes(page)}
            assert {"m:pc1", "m:pc2", "m:r1", "d:A", "d:B"} <= set(nodes), nodes
            assert nodes["m:pc1"]["canvas"] >= 1
            assert nodes["m:pc1"]["label"] == "pc1" and "running" in nodes["m:pc1"]["classes"]
            assert "router" in nodes["m:r1"]["classes"] and "host" in nodes["m:pc1"]["classes"]
            page.screenshot(path=str(shots / "browser-1-topology.png"))

            # a click on r1 shows its interfaces and routes beside the graph
            r1 = settled_node(page, "m:r1")
            page.mouse.click(r1["x"], r1["y"])
            details = page.locator(".nk-details")
            details.wait_for(timeout=20_000)
            assert "10.0.1.254/24" in details.inner_text() and "Routes" in details.inner_text()
            page.screenshot(path=str(shots / "browser-2-clicked-r1.png"))

            # a click on domain A offers its capture; the frames of the ping below appear. A is a
            # small diamond: where it is now, once the graph has stopped moving (its layout may
            # still run, and the details above may have moved the page), clicked until it answers
            capture = page.get_by_role("button", name=re.compile("Capture 10 frames on A"))
            for _ in range(10):
                a = settled_node(page, "d:A")
                page.mouse.click(a["x"], a["y"])
                try:
                    capture.wait_for(timeout=3_000)
                    break
                except Exception:
                    continue
            capture.click()
            page.get_by_text(re.compile("capturing on A")).wait_for(timeout=20_000)
            time.sleep(1.0)  # tcpdump is listening

            # 2. %vcmd output arrives progressively: seen at two moments of a ping -c 3
            run_cell(page, 1)
            first = wait_text(page, 1, r"icmp_seq=1", timeout=20)
            t_first = time.monotonic()
            assert "icmp_seq=3" not in first and "packet loss" not in first
            page.screenshot(path=str(shots / "browser-3-ping-running.png"))
            last = wait_text(page, 1, r"packet loss", timeout=20)
            assert time.monotonic() - t_first > 1.0
            assert "icmp_seq=3" in last
            frames = wait_text(page, 0, r"10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request", timeout=20)
            assert "ICMP echo reply" in frames
            page.screenshot(path=str(shots / "browser-3b-captured.png"))

            # 3. the interrupt button stops a long command; the lab keeps running
            run_cell(page, 2)
            wait_text(page, 2, r"started", timeout=20)
            page.locator("jp-button[data-command='notebook:interrupt-kernel'], "
                         "button[data-command='notebook:interrupt-kernel']").first.click()
            text = wait_text(page, 2, r"KeyboardInterrupt", timeout=20)
            assert "command interrupted, stopped by SIGINT" in text
            assert text.index("started") < text.index("command interrupted") and "\nnever" not in text
            page.screenshot(path=str(shots / "browser-4-interrupted.png"))

            # 4. a state change shows in the graph without redrawing it
            run_cell(page, 3)
            wait_text(page, 3, r"pc2 halted")
            end = time.monotonic() + 20
            while time.monotonic() < end:
                pc2 = {n["id"]: n for n in cy_nodes(page)}["m:pc2"]
                if "halted" in pc2["classes"]:
                    break
                time.sleep(0.1)
            assert "halted" in pc2["classes"] and pc2["label"] == "pc2\n(halted)", pc2
            assert (pc2["px"], pc2["py"]) == (nodes["m:pc2"]["px"], nodes["m:pc2"]["py"])  # not moved
            page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser-5-pc2-halted.png"))

            # 5. %vlist is an HTML table
            run_cell(page, 4)
            table = page.locator(".nk-table")
            table.wait_for(timeout=20_000)
            assert re.search(r"pc2\s+halted", table.inner_text()), table.inner_text()
            table.screenshot(path=str(shots / "browser-6-vlist.png"))

            # 6. unplugging a link hides that link only; labels carry the addresses
            edges = {e["id"]: e for e in page.evaluate(CY_EDGES)}
            assert all(e["visible"] for e in edges.values()) and len(edges) == 4, edges
            assert edges["e:r1:eth1:B"]["label"] == "eth1\n10.0.1.254/24"
            run_cell(page, 5)
            wait_text(page, 5, r"r1: eth1 unplugged")
            end = time.monotonic() + 20
            while time.monotonic() < end and {e["id"]: e for e in page.evaluate(CY_EDGES)}["e:r1:eth1:B"]["visible"]:
                time.sleep(0.1)
            edges = {e["id"]: e["visible"] for e in page.evaluate(CY_EDGES)}
            assert edges == {"e:pc1:eth0:A": True, "e:pc2:eth0:A": True, "e:r1:eth0:A": True, "e:r1:eth1:B": False}
            page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "browser-7-unplugged.png"))
        finally:
            page.screenshot(path=str(shots / "browser-last.png"))
            browser.close()
