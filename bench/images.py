"""Image machines against host-program machines and plain `podman run`, in the same run.

    python bench/images.py IMAGE [N...]      (e.g. localhost/nkbb:1 10 100)

For each N: Lab.start() of a generated lab of N machines (10 per collision domain, one-line
startups) on IMAGE, the same lab with --images=host, and N `podman run -d --network none
--runtime runc IMAGE sleep 1000` one after the other (then `podman rm -f -t0`); plus the API
round trip of `true` in an image machine (median of 300).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

from common import emit, generate_lab, median_ms

from nk_jupyter import Lab


def lab_boot(image: str, n: int, policy: str) -> dict:
    folder = generate_lab(n)
    with open(folder / "lab.conf", "a") as f:
        f.write("".join(f'h{i}[image]="{image}"\n' for i in range(n)))
    try:
        lab = Lab.from_dir(folder)
        t0 = time.perf_counter()
        result = lab.start(timeout=600, images=policy)
        wall = time.perf_counter() - t0
        backends = {m.backend for m in lab.info()}
        out = {"start_s": round(wall, 3), "per_machine_ms": round(wall / n * 1000, 2),
               "failed": len(result.failed), "backends": sorted(backends)}
        if policy == "podman":
            for _ in range(10):
                lab.run("h0", "true")
            samples = []
            for _ in range(300):
                t = time.perf_counter()
                lab.run("h0", "true")
                samples.append(time.perf_counter() - t)
            out["exec_true_median_ms"] = median_ms(samples)
        lab.crash()
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def podman_run(image: str, n: int) -> dict:
    names = [f"nk-bench-{i}" for i in range(n)]
    t0 = time.perf_counter()
    for name in names:
        subprocess.run(["podman", "run", "-d", "--rm", "--runtime", "runc", "--network", "none", "--name", name,
                        image, "sleep", "1000"], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    subprocess.run(["podman", "rm", "-f", "-t", "0", *names], capture_output=True)
    return {"start_s": round(wall, 3), "per_machine_ms": round(wall / n * 1000, 2)}


def main(image: str, sizes: list[int]) -> None:
    for n in sizes or [10, 100]:
        emit({"bench": "images", "machines": n, "image": image,
              "image_machines": lab_boot(image, n, "podman"),
              "host_machines": lab_boot(image, n, "host"),
              "podman_run_runc": podman_run(image, n)})


if __name__ == "__main__":
    main(sys.argv[1], [int(a) for a in sys.argv[2:]])
