"""Pure parts of the Jupyter face: the %%lab cell format, the layout, argument splitting,
and the magics in a real in-process InteractiveShell (no lab needed)."""
from __future__ import annotations

import pytest

from nk_jupyter.errors import LabConfError
from nk_jupyter.jupyter.cellformat import CellError, parse_cell
from nk_jupyter.jupyter.friendly import interface_options, split_command
from nk_jupyter.jupyter.layout import positions

CELL = """pc1[0]=A
pc2[0]=A

--- pc1.startup ---
ip addr add 10.0.0.1/24 dev eth0

--- r1/etc/frr/frr.conf ---
router ospf
"""


def test_cell_sections_and_line_numbers():
    cell = parse_cell(CELL)
    assert cell.lab_conf == "pc1[0]=A\npc2[0]=A\n"
    assert cell.files == {"pc1.startup": "ip addr add 10.0.0.1/24 dev eth0\n", "r1/etc/frr/frr.conf": "router ospf\n"}
    assert cell.cell_line("lab.conf", 2) == 3  # line 1 of the cell is %%lab
    assert cell.cell_line("pc1.startup", 1) == 6
    err = cell.translate(LabConfError("/x/lab/lab.conf", 2, "cannot parse: pc2[0"), "/x/lab")
    assert str(err) == "%%lab cell, line 3: cannot parse: pc2[0 (lab.conf line 2)"


@pytest.mark.parametrize("body, line, words", [
    ("pc1[0]=A\n--- pc1.startup --\n", 3, "malformed file header"),
    ("pc1[0]=A\n--- /etc/x ---\n", 3, "relative"),
    ("pc1[0]=A\n--- a.startup ---\n--- a.startup ---\n", 4, "appears twice"),
    ("pc1[0]=A\n--- a.startup ---\n--- lab.conf ---\n", 4, "must come first"),
    ("\n\n", 2, "defines no machine"),
])
def test_cell_errors_name_the_line(body, line, words):
    with pytest.raises(CellError) as info:
        parse_cell(body)
    assert info.value.line == line and words in str(info.value)


def test_layout_is_deterministic_and_inside_the_box():
    nodes = ["m:r1", "m:r2", "m:pc1", "d:A", "d:B"]
    edges = [("m:pc1", "d:A"), ("m:r1", "d:A"), ("m:r1", "d:B"), ("m:r2", "d:B")]
    first = positions(nodes, edges)
    assert first == positions(list(reversed(nodes)), list(reversed(edges)))
    assert set(first) == set(nodes)
    assert all(0 <= x <= 640 and 0 <= y <= 400 for x, y in first.values())
    assert len(set(first.values())) == len(nodes)
    big = positions([f"m:n{i}" for i in range(300)], [])
    assert len(set(big.values())) == 300


def test_split_command_keeps_the_command_as_typed():
    assert split_command("-q --out r pc1 ping -c 3 'a  b'", {"--out"}) == (["-q", "--out", "r"], "pc1", "ping -c 3 'a  b'")
    assert split_command("pc1", set()) == ([], "pc1", "")
    assert split_command("  ", set()) == ([], "", "")
    assert interface_options(["r1", "--eth0=A", "--eth", "1:B", "--eth2=none"]) == ({0: "A", 1: "B", 2: None}, ["r1"])


def test_magics_in_an_interactive_shell(capsys):
    from IPython.testing.globalipapp import get_ipython  # the one test shell of the whole run
    ip = get_ipython()
    ip.run_line_magic("load_ext", "nk_jupyter")
    assert {"lstart", "lhalt", "lcrash", "lclean", "lrestart", "lattach", "linfo", "ltopo", "vcmd", "vstart",
            "vhalt", "vcrash", "vconfig", "vlist"} <= set(ip.magics_manager.magics["line"])
    assert {"lab", "vcmd"} <= set(ip.magics_manager.magics["cell"])
    ip.run_cell("%vconfig r1 --eth1")
    ip.run_cell("%lhalt extra")
    ip.run_cell("%%lab x\npc1[0]=A\n--- pc1.startup ---\n--- pc1.startup ---\n")
    err = capsys.readouterr().err
    assert "--eth1: write --ethN=DOMAIN" in err
    assert "unrecognized arguments: extra" in err
    assert "%%lab cell, line 4: pc1.startup appears twice (first on line 3)" in err
    assert "Traceback" not in err
    ip.run_line_magic("unload_ext", "nk_jupyter")
    assert "vcmd" not in ip.magics_manager.magics["line"]


@pytest.mark.parametrize("routers", [4, 10])
def test_forty_or_a_hundred_machines_do_not_pile_up(routers):
    """Hosts around a busy domain keep apart: each machine's name stays readable (a hundred
    machines get fewer layout steps, layout.PAIR_STEPS, and must still keep apart)."""
    import itertools
    import math
    from nk_jupyter.jupyter.layout import MIN_GAP, positions
    nodes, edges = ["d:core"], []
    for r in range(routers):
        nodes += [f"m:r{r}", f"d:lan{r}"]
        edges += [(f"m:r{r}", "d:core"), (f"m:r{r}", f"d:lan{r}")]
        for h in range(9):
            nodes.append(f"m:h{r}x{h}")
            edges.append((f"m:h{r}x{h}", f"d:lan{r}"))
    pos = positions(nodes, edges)
    closest = min(math.dist(pos[a], pos[b]) for a, b in itertools.combinations(nodes, 2))
    assert closest >= MIN_GAP - 1, closest
    assert positions(list(reversed(nodes)), edges) == pos  # still deterministic


def test_boot_progress_draws_at_most_once_per_gap_and_always_the_last_states():
    """A boot of N machines sends 3N events; redrawing the whole lab's badges at each was
    quadratic (and sent the browser the whole HTML each time). Drawn at most once per
    REDRAW_GAP while events come, and once more with the last states after the boot."""
    from nk_jupyter.jupyter.progress import BootProgress
    from nk_jupyter.model.events import MachineEvent
    from nk_jupyter.model.states import MachineState as S
    names = [f"pc{i}" for i in range(200)]
    progress = BootProgress("big", names, widget=True)
    drawn = []
    progress.html.observe(lambda change: drawn.append(change["new"]), names="value")
    for state in (S.CREATED, S.BOOTING, S.RUNNING):
        for name in names:
            progress(MachineEvent(name, state))
    assert 1 <= len(drawn) < 20  # 600 events in well under a second: a handful of redraws
    progress.flush()
    assert "(200/200 up)" in progress.html.value and "pc199: running" in progress.html.value
    assert "booting" not in progress.html.value
    before = len(drawn)
    progress.flush()  # nothing changed since: no redraw
    assert len(drawn) == before


def test_a_change_that_came_too_soon_to_draw_is_drawn_a_gap_later():
    """The last state of a boot must show even if no event follows it (a slow machine's
    neighbour reached 'running' just after a redraw)."""
    import threading
    import time
    from nk_jupyter.jupyter.progress import Throttle
    drawn = []
    done = threading.Event()
    throttle = Throttle(lambda: (drawn.append(time.monotonic()), len(drawn) == 2 and done.set()), gap=0.1)
    throttle.poke()  # drawn at once
    throttle.poke()  # too soon: drawn by the timer
    assert len(drawn) == 1
    assert done.wait(5) and drawn[1] - drawn[0] >= 0.09
    throttle.flush()  # nothing pending: no draw
    time.sleep(0.2)
    assert len(drawn) == 2
