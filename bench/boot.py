"""Boot generated labs of N machines and time each phase; idle memory per machine.

    python bench/boot.py 100 500 1000

One JSON line per size: wall time of Lab.start() (supervisor start included; on a host idle
again after whatever ran before), the CPU time all cores spent busy meanwhile (the whole
host's, from /proc/stat: on a quiet host, what the boot cost), the supervisor's own phase timings (create_and_plug: namespaces, roots and veths;
nodes_ready; startups: every one-line startup finished), lcrash time, the same lab's
Lab.start() again right after that lcrash (while the kernel still tears the old namespaces
down), `nk lstart` (once the host is idle again) and `nk lcrash` of the same lab as new processes
(the CLI as users run it), and the private (unshared) memory of the idle machines' processes,
from /proc/PID/smaps_rollup.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

from common import busy_s, emit, generate_lab, nk_command, wait_idle

from nk_jupyter import Lab


def run(n: int) -> dict:
    folder = generate_lab(n)
    try:
        lab = Lab.from_dir(folder)
        wait_idle()  # (a lab stopped before this one may still be torn down by the kernel)
        c0, t0 = busy_s(), time.perf_counter()
        result = lab.start(timeout=600)
        wall, cpu = time.perf_counter() - t0, busy_s() - c0
        info = lab.info(memory=True)
        mem = sorted(m.memory_kib or 0 for m in info)
        t1 = time.perf_counter()
        lab.crash()
        crash = time.perf_counter() - t1
        c2, t2 = busy_s(), time.perf_counter()
        again = lab.start(timeout=600)
        restart, cpu2 = time.perf_counter() - t2, busy_s() - c2
        lab.crash()
        waited = wait_idle()  # (once the kernel has torn the last run down)
        t3 = time.perf_counter()  # the same lab again, as users start it: `nk lstart` as a new process
        cli = subprocess.run([*nk_command(), "lstart", "-d", str(folder), "--timeout", "600"], capture_output=True)
        cli_start = time.perf_counter() - t3
        t4 = time.perf_counter()
        subprocess.run([*nk_command(), "lcrash", "-d", str(folder)], capture_output=True, check=True)
        cli_crash = time.perf_counter() - t4
        return {"bench": "boot", "machines": n, "failed": len(result.failed) + len(again.failed),
                "start_s": round(wall, 3), "phases_s": {k: round(v, 3) for k, v in result.timing.items()},
                "per_machine_ms": round(wall / n * 1000, 2), "host_busy_s": round(cpu, 2),
                "busy_per_machine_ms": round(cpu / n * 1000, 2), "crash_s": round(crash, 3),
                "start_right_after_crash_s": round(restart, 3), "busy_right_after_crash_s": round(cpu2, 2),
                "cli_lstart_s": round(cli_start, 3) if cli.returncode == 0 else f"failed: {cli.stderr[-300:]!r}",
                "cli_lcrash_s": round(cli_crash, 3), "idle_wait_before_cli_s": round(waited, 1),
                "idle_private_kib_median": mem[len(mem) // 2], "idle_private_kib_max": mem[-1]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [100]:
        emit(run(size))
