"""Jupyter-side timings on a real nk-lab kernel; prints one JSON line.

    python bench/jupyter_bench.py [-n 50]

- vcmd_roundtrip_ms: `%vcmd pc1 true` as a client sees it (execute request to idle),
  median over N; vcmd_in_kernel_ms: the same magic timed inside the kernel.
- lab_cell_10_s: a `%%lab` cell of 10 machines (topology view on) until every startup
  has finished and the summary is printed.
- widget_update_ms: from asking the engine to crash a machine (lab.crash, another
  thread of control than the view) to the topology view's node showing "crashed";
  crash_call_ms is the crash request alone.
Needs user namespaces; installs the kernelspec into a temporary Jupyter path.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB10 = "%%lab bench10\n" + "".join(f"pc{i}[0]=A\n" for i in range(1, 11)) + "".join(
    f"--- pc{i}.startup ---\nip addr add 10.0.0.{i}/24 dev eth0\n" for i in range(1, 11))
IN_KERNEL = """
import json, statistics, threading, time
from nk_jupyter.jupyter import _LOADED
_ip = get_ipython()
_session, _followers = _LOADED[id(_ip)][:2]
_t = []
for _ in range({n}):
    _s = time.perf_counter(); _ip.run_line_magic("vcmd", "pc1 true"); _t.append(time.perf_counter() - _s)
_lab = _session.current
_view = _followers.view(_lab)
_seen = threading.Event()
_node = _view.nodes["m:pc10"]
_node.observe(lambda ch: "crashed" in ch["new"] and _seen.set(), names="classes")
_s = time.perf_counter(); _lab.crash(["pc10"]); _call = time.perf_counter() - _s
_seen.wait(10); _upd = time.perf_counter() - _s
print(json.dumps({{"vcmd_in_kernel_ms": statistics.median(_t) * 1000, "widget_update_ms": _upd * 1000,
                  "crash_call_ms": _call * 1000, "widget_seen": _seen.is_set()}}))
"""


def kernel_env(tmp: str) -> None:
    import nk_jupyter
    pkg = str(Path(nk_jupyter.__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = pkg + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    subprocess.run([sys.executable, "-m", "nk_jupyter.jupyter.kernelspec", "install", "--prefix", tmp,
                    "--env", f"PYTHONPATH={os.environ['PYTHONPATH']}"], check=True, capture_output=True)
    os.environ.update(JUPYTER_PATH=f"{tmp}/share/jupyter", JUPYTER_RUNTIME_DIR=f"{tmp}/runtime",
                      IPYTHONDIR=f"{tmp}/ipython")


def run(kc, code: str, timeout: float = 300) -> str:
    out: list[str] = []
    kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(
        m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kernel_env(tmp)
        from jupyter_client import KernelManager
        km = KernelManager(kernel_name="nk-lab")
        km.start_kernel(cwd=tmp)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        try:
            start = time.perf_counter()
            summary = run(kc, LAB10)
            lab_cell = time.perf_counter() - start
            assert "10 of 10 machines running" in summary, summary
            times = []
            for _ in range(args.n):
                s = time.perf_counter()
                run(kc, "%vcmd pc1 true")
                times.append(time.perf_counter() - s)
            inside = json.loads(run(kc, IN_KERNEL.format(n=args.n)).strip().splitlines()[-1])
            run(kc, "%lcrash")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)
    print(json.dumps({"bench": "jupyter", "n": args.n, "vcmd_roundtrip_ms": round(statistics.median(times) * 1000, 2),
                      "vcmd_in_kernel_ms": round(inside["vcmd_in_kernel_ms"], 2), "lab_cell_10_s": round(lab_cell, 3),
                      "widget_update_ms": round(inside["widget_update_ms"], 2),
                      "crash_call_ms": round(inside["crash_call_ms"], 2), "widget_seen": inside["widget_seen"],
                      "host": {"python": platform.python_version(), "kernel": platform.release(),
                               "cpus": os.cpu_count()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
