"""lstart/lcrash cycles of a small lab: nothing may grow (processes, mounts, state files and
their memory, our descriptors, the host's used memory).

    python bench/cycles.py 1000

Prints one JSON line: seconds per cycle, the leak snapshot (tests/leaks.py) before and after,
and MemAvailable before and after (the kernel frees namespaces asynchronously: read that one
with care).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import emit

sys.path.append(str(Path(__file__).resolve().parent.parent))  # tests/ (after the installed nk_jupyter)
from tests.leaks import settled  # noqa: E402

from nk_jupyter import Lab  # noqa: E402


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="nk-cycles-"))
    (folder / "lab.conf").write_text("pc1[0]=A\npc2[0]=A\npc2[1]=B\nr1[0]=B\n")
    (folder / "pc1.startup").write_text("ip addr add 10.0.0.1/24 dev eth0; sleep 100 &\n")
    lab = Lab.from_dir(folder)
    lab.start()
    lab.crash()
    before, mem0 = settled(), mem_available_kib()
    t0 = time.perf_counter()
    for _ in range(n):
        lab.start()
        lab.run("pc1", "true")
        lab.crash()
    per_cycle = (time.perf_counter() - t0) / n
    after = settled()  # the kernel tears namespaces down asynchronously
    mem1 = mem_available_kib()
    emit({"bench": "cycles", "cycles": n, "per_cycle_s": round(per_cycle, 3), "before": before, "after": after,
          "leaked": {k: after[k] - before[k] for k in before if after[k] != before[k]},
          "mem_available_delta_kib": mem1 - mem0})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
