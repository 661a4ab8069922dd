"""Many lstart/lcrash (and lhalt) cycles of a small lab leave nothing growing
(bench/cycles.py runs 1000 of them; this runs enough to see a leak per cycle)."""
from __future__ import annotations

from nk_jupyter import Lab

from ..leaks import our_processes, settled

CYCLES = 25


def test_start_stop_cycles_leak_nothing(make_lab):
    folder = make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\npc2[1]=B\nr1[0]=B\n",
                       "pc1.startup": "ip addr add 10.0.0.1/24 dev eth0; sleep 100 &\n",
                       "pc2/etc/motd": "hi\n"})
    lab = Lab.from_dir(folder)
    lab.start()
    assert lab.run("pc1", "true").status == 0
    lab.crash()
    before = settled()
    names = our_processes()
    for i in range(CYCLES):
        lab.start()
        assert lab.run("pc2", "cat /etc/motd").stdout == "hi\n"
        if i % 5 == 4:
            lab.halt()
            lab.clean()
        else:
            lab.crash()
    after = settled()
    assert after == before, (before, after, names, our_processes())
