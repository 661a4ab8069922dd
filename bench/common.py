"""Shared helpers for the benchmarks: generated labs, host facts, medians."""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path


def host_facts() -> dict:
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "user": "root" if os.getuid() == 0 else "ordinary"}


def generate_lab(n: int, per_domain: int = 10, base: str | None = None) -> Path:
    """n hosts, per_domain of them on each collision domain, each with a one-line startup."""
    folder = Path(tempfile.mkdtemp(prefix=f"nk-bench-{n}-", dir=base))
    (folder / "lab.conf").write_text("".join(f"h{i}[0]=d{i // per_domain}\n" for i in range(n)))
    for i in range(n):
        (folder / f"h{i}.startup").write_text(f"ip addr add 10.{i // 250}.{i % 250}.1/16 dev eth0\n")
    return folder


def busy_s() -> float:
    """CPU time every core of the host has spent busy so far (/proc/stat), in seconds."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def wait_idle(limit: float = 30.0, step: float = 0.5, below: float = 0.1) -> float:
    """Wait until the host's cores are busy less than `below` of a `step` (the kernel done tearing
    down a stopped lab's namespaces); returns the seconds waited (at most about limit)."""
    import time
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        b0 = busy_s()
        time.sleep(step)
        if (busy_s() - b0) / step / (os.cpu_count() or 1) < below:
            break
    return time.perf_counter() - t0


def nk_command() -> list[str]:
    """The CLI as users run it: the `nk` script of this Python's environment (else -m nk_jupyter)."""
    script = os.path.join(os.path.dirname(sys.executable), "nk")
    return [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "nk_jupyter"]


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def emit(result: dict) -> None:
    print(json.dumps({**result, "host": host_facts()}), flush=True)
