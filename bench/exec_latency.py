"""Round trip of a trivial command in a machine: through the Python API and through the CLI.

    python bench/exec_latency.py [API_SAMPLES] [CLI_SAMPLES]

API round trips are timed back to back, and isolated (0.3 s apart, as commands typed or run
now and then: what the kernel has let go idle meanwhile, such as a cgroup move's fast path,
is paid again).

The CLI is timed as users run it: the `nk` script of this Python's environment (else
`python -m nk_jupyter`), as a new process each time.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

from common import nk_command, emit, median_ms

from nk_jupyter import Lab


def main(api_n: int = 300, cli_n: int = 30) -> None:
    lab = Lab.from_text("pc1[0]=A\n", name="bench-exec")
    lab.start()
    try:
        for _ in range(10):
            lab.run("pc1", "true")
        api = []
        for _ in range(api_n):
            t = time.perf_counter()
            lab.run("pc1", "true")
            api.append(time.perf_counter() - t)
        isolated = []
        for _ in range(20):
            time.sleep(0.3)
            t = time.perf_counter()
            lab.run("pc1", "true")
            isolated.append(time.perf_counter() - t)
        shell = []
        for _ in range(api_n // 3):
            t = time.perf_counter()
            lab.run("pc1", "true; true")
            shell.append(time.perf_counter() - t)
        nk = nk_command()
        cli = []
        for _ in range(cli_n):
            t = time.perf_counter()
            subprocess.run([*nk, "vcmd", "-d", str(lab.directory), "pc1", "true"], check=True)
            cli.append(time.perf_counter() - t)
        emit({"bench": "exec", "api_true_median_ms": median_ms(api), "api_true_isolated_median_ms": median_ms(isolated),
              "api_via_bash_median_ms": median_ms(shell),
              "cli_vcmd_true_median_ms": median_ms(cli), "samples": [api_n, 20, api_n // 3, cli_n]})
    finally:
        lab.crash()


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
