"""What the JupyterHub of jupyterhub_config.py does for nk-jupyter, per student:

- a sub-ID range of their own in /etc/subuid and /etc/subgid (65536 IDs, after the last one
  given), so their machines' daemons (FRR, bind) get real users;
- a delegated cgroup (scripts/cgroup-delegate.sh) with the admin's memory and pids limits,
  and their single-user server started inside its runner leaf: every lab they start is
  inside it, so one student cannot take another's memory or processes;
- NK_MAX_MACHINES: machines per student, across their running labs;
- the course notebooks copied into ~/nk-course once.

Students are Unix users (PAM); the hub runs as root and spawns each server as that user
(LocalProcessSpawner). Everything a student's labs hold lives in their own 0700 state
folder, in their own user namespaces: another student cannot see, reach or stop it.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Integer, Unicode

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SUBID_SIZE = 65536
SUBID_FIRST = 100000


def _ranges(path: str) -> list[tuple[str, int, int]]:
    out = []
    try:
        for line in Path(path).read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                out.append((parts[0], int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return out


def ensure_subids(user: str) -> None:
    """A 65536-ID range for user in /etc/subuid and /etc/subgid, unless it has one."""
    uid, gid = _ranges("/etc/subuid"), _ranges("/etc/subgid")
    if any(name == user for name, _, _ in uid) and any(name == user for name, _, _ in gid):
        return
    end = max([SUBID_FIRST] + [start + size for _, start, size in uid + gid])
    start = -(-end // SUBID_SIZE) * SUBID_SIZE
    span = f"{start}-{start + SUBID_SIZE - 1}"
    subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, user], check=True)


def delegate_cgroup(user: str, memory: str, pids: int) -> dict[str, str]:
    """The student's delegated cgroup, with limits; returns the environment nk reads."""
    script = REPO / "scripts" / "cgroup-delegate.sh"
    if not script.exists():
        script = Path("/opt/nk-src/scripts/cgroup-delegate.sh")
    done = subprocess.run(["bash", str(script), user, f"nk-hub-{user}"], capture_output=True, text=True)
    if done.returncode != 0:
        return {}
    env = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
    v2 = env.get("NK_CGROUP")
    if v2:
        for name, value in (("memory.max", memory), ("pids.max", str(pids) if pids else "max")):
            try:
                (Path(v2) / name).write_text(value or "max")
            except OSError:
                pass
    v1 = env.get("NK_CGROUP_MEMORY")
    if v1 and memory and memory != "max":
        try:
            (Path(v1) / "memory.limit_in_bytes").write_text(memory)
        except OSError:
            pass
    return env


def copy_course(user: str, source: Path) -> None:
    home = Path(pwd.getpwnam(user).pw_dir)
    target = home / "nk-course"
    if target.exists() or not source.is_dir():
        return
    shutil.copytree(source, target)
    info = pwd.getpwnam(user)
    for dirpath, dirs, files in os.walk(target):
        for name in [dirpath, *[os.path.join(dirpath, f) for f in dirs + files]]:
            os.chown(name, info.pw_uid, info.pw_gid)


class NkSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that prepares nk for the student and starts the server inside the
    student's delegated cgroup (the move needs root: it happens before the server drops to
    the student's uid)."""

    nk_memory = Unicode("4G", config=True, help="memory.max of each student's cgroup ('max': none)")
    nk_pids = Integer(4096, config=True, help="pids.max of each student's cgroup (0: none)")
    nk_max_machines = Integer(60, config=True, help="machines per student across running labs (0: no limit)")
    nk_course = Unicode(str(REPO / "notebooks"), config=True, help="notebooks copied to ~/nk-course once")

    async def start(self):
        user = self.user.name
        ensure_subids(user)
        cg = delegate_cgroup(user, self.nk_memory, self.nk_pids)
        self._runners = [Path(v) / "runner" / "cgroup.procs" for v in cg.values()]
        self.environment.update(cg)
        if self.nk_max_machines:
            self.environment["NK_MAX_MACHINES"] = str(self.nk_max_machines)
        self.environment.setdefault("XDG_RUNTIME_DIR", "")
        copy_course(user, Path(self.nk_course))
        return await super().start()

    def make_preexec_fn(self, name):
        drop = super().make_preexec_fn(name)
        runners = list(getattr(self, "_runners", []))

        def preexec():
            for procs in runners:  # still root here: join the student's cgroup
                try:
                    with open(procs, "w") as f:
                        f.write(str(os.getpid()))
                except OSError:
                    pass
            drop()
        return preexec
