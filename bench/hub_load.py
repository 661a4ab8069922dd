"""A class on one server: N students log in to a real JupyterHub (deploy/jupyterhub) through
its REST API, start their servers, and each runs, through the kernel protocol, a notebook's
cells that boot a 5-machine lab, ping across it and halt it. As root:

    /opt/nk-venv/bin/python bench/hub_load.py 20

Reports: time until every student's lab runs, failures, what is left after (supervisors,
state folders), memory per student (PSS of all their processes while their lab runs).
Students are Unix users nkload01.. (made if missing, with sub-ID ranges by the hub).
"""
from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests/ (after the installed nk_jupyter)
from tests.hub.hubclient import VENV, Hub, Kernel, login, start_server  # noqa: E402

LAB = ("%%lab load --no-topo\nr1[0]=A\nr1[1]=B\n" + "".join(f"h{i}[0]={'A' if i < 2 else 'B'}\n" for i in range(4))
       + "--- r1.startup ---\nip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
       + "".join(f"--- h{i}.startup ---\nip addr add 10.0.{1 if i < 2 else 2}.{10 + i}/24 dev eth0\n"
                 f"ip route add default via 10.0.{1 if i < 2 else 2}.1\n" for i in range(4)))
PING = "r = %vcmd -q h0 ping -c 3 -W 2 10.0.2.12\nprint('ping', r.status)"
MEMORY = ("import os, glob\nuid = os.getuid(); kib = 0\n"
          "for p in glob.glob('/proc/[0-9]*'):\n"
          "    try:\n"
          "        if os.stat(p).st_uid == uid:\n"
          "            kib += int([l for l in open(p + '/smaps_rollup') if l.startswith('Pss:')][0].split()[1])\n"
          "    except (OSError, IndexError):\n        pass\nprint('pss_kib', kib)")


def pss_of(user: str) -> int:
    uid = pwd.getpwnam(user).pw_uid
    kib = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    kib += int([x for x in (p / "smaps_rollup").read_text().splitlines() if x.startswith("Pss:")][0].split()[1])
            except (OSError, IndexError):
                pass
    return kib


def _uid(p: Path) -> int:
    try:
        return p.stat().st_uid
    except OSError:
        return -1


def main(n: int = 20) -> None:
    students = [f"nkload{i:02d}" for i in range(1, n + 1)]
    for user in students:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-m", "-s", "/bin/bash", user], check=True)
    data = Path(tempfile.mkdtemp(prefix="nk-hub-load-"))
    hub = Hub(data, NK_HUB_MEMORY="2G", NK_HUB_PIDS="3000", NK_HUB_MACHINES="20")
    results: dict[str, dict] = {}
    t0 = time.monotonic()
    try:
        def student(user: str) -> None:
            out: dict = {}
            try:
                token = login(hub, user)
                start_server(hub, user, token)
                out["server_s"] = round(time.monotonic() - t0, 2)
                kernel = Kernel(hub, user, token)
                said = kernel.run(LAB, timeout=600)
                out["lab_running_s"] = round(time.monotonic() - t0, 2)
                out["booted"] = "5 of 5 machines running" in said
                out["ping_ok"] = "ping 0" in kernel.run(PING, timeout=120)
                out["pss_kib"] = pss_of(user)
                kernel.run("%lhalt", timeout=180)
                kernel.close()
                hub.api("DELETE", f"/hub/api/users/{user}/server")
            except Exception as e:  # a failure is a result
                out["error"] = f"{type(e).__name__}: {e}"[:300]
            results[user] = out
        threads = [threading.Thread(target=student, args=(u,)) for u in students]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=1200)
    finally:
        time.sleep(2)
        hub.stop()
    uids = {pwd.getpwnam(u).pw_uid for u in students}
    for user in students:  # their halted labs' files: this is a benchmark, not a class
        subprocess.run(["su", user, "-s", "/bin/bash", "-c", f"XDG_RUNTIME_DIR= {VENV}/bin/nk wipe"], capture_output=True)
    left = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _uid(p) in uids]
    ok = [r for r in results.values() if r.get("booted") and r.get("ping_ok")]
    pss = sorted(r["pss_kib"] for r in ok if "pss_kib" in r)
    print(json.dumps({
        "bench": "hub_load", "students": n, "ok": len(ok), "failures": {u: r for u, r in results.items() if r not in ok},
        "all_labs_running_s": max((r["lab_running_s"] for r in ok), default=None),
        "first_lab_running_s": min((r["lab_running_s"] for r in ok), default=None),
        "pss_mib_per_student_median": round(pss[len(pss) // 2] / 1024, 1) if pss else None,
        "pss_mib_per_student_max": round(pss[-1] / 1024, 1) if pss else None,
        "students_processes_left": len(left), "cpus": os.cpu_count(),
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}))


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
