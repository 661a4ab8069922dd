"""Memory, CPU and process limits with a delegated cgroup (cgroup v2; v1 memory on hybrid hosts).

nk never needs root for this: it uses a cgroup folder the user was given (systemd's
`Delegate=yes`, a JupyterHub spawner's slice, or an admin's `mkdir` + `chown`):

    NK_CGROUP=/sys/fs/cgroup/<...>          a cgroup v2 folder the user owns, with no process
                                            in it (nk makes children: lab-<id>@<run>/sup for
                                            the supervisor, lab-<id>@<run>/m/<machine> with the
                                            machine's limits, and its leaf/ with its processes)
    NK_CGROUP_MEMORY=/sys/fs/cgroup/memory/<...>   on a hybrid (v1 + v2) host whose memory
                                            controller is still on v1: a v1 memory folder the user owns

Without them, `mem` and `cpus` cannot be enforced (nk says so once per lab); the process limit
per machine and per lab still holds through user-namespace NPROC budgets (backends/namespaces/initplan.py).
"""
from __future__ import annotations

import errno
import os
import time
from ..records import dataclass, field
from pathlib import Path

V2_CONTROLLERS = ("memory", "pids", "cpu")


def _owned(path: Path) -> bool:
    try:
        return (path / "cgroup.procs").stat().st_uid == os.getuid() and os.access(path / "cgroup.procs", os.W_OK)
    except OSError:
        return False


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enable(folder: Path, controllers: set[str]) -> None:
    """Give the children of a cgroup v2 folder these controllers (if any)."""
    if controllers:
        _write(folder / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(controllers)))


def parse_bytes(mem: str) -> int:
    """model.options' normalised memory ("64m") -> bytes."""
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    return int(mem[:-1]) * units[mem[-1]]


@dataclass
class Delegation:
    """The cgroup folders this user may use, and which limits they can enforce."""
    v2: Path | None = None
    v1_memory: Path | None = None
    controllers: set[str] = field(default_factory=set)   # what can be limited
    v2_controllers: set[str] = field(default_factory=set)  # of those, what cgroup v2 does

    @classmethod
    def find(cls, env: dict[str, str] | None = None) -> "Delegation":
        env = os.environ if env is None else env
        d = cls()
        if env.get("NK_CGROUP") and _owned(Path(env["NK_CGROUP"])):
            d.v2 = Path(env["NK_CGROUP"])
            try:
                available = set((d.v2 / "cgroup.controllers").read_text().split())
            except OSError:
                available = set()
            d.v2_controllers = {c for c in V2_CONTROLLERS if c in available}
            d.controllers = set(d.v2_controllers)
        if "memory" not in d.controllers and env.get("NK_CGROUP_MEMORY") and _owned(Path(env["NK_CGROUP_MEMORY"])):
            d.v1_memory = Path(env["NK_CGROUP_MEMORY"])
            d.controllers.add("memory")
        return d

    def can(self, controller: str) -> bool:
        return controller in self.controllers


class LabCgroups:
    """The cgroups of one run of a lab: lab-<id>@<run>/sup for the supervisor, .../m/<machine>
    per machine. Each run has folders of its own (run: its supervisor's host pid), so a lab
    can start again while the empty folders of its last run are still being removed."""

    def __init__(self, delegation: Delegation, lab_id: str, run: str, pids_max: int) -> None:
        self.d = delegation
        self.roots = [p / run_folder(lab_id, run) for p in (delegation.v2, delegation.v1_memory) if p]
        for root in self.roots:
            for old in _lab_folders(root.parent, lab_id):
                _remove_tree(old)  # left by a supervisor that was killed
        self._in_m: set[str] = set()  # the controllers m/ gives its machines' folders so far
        if delegation.v2:
            v2 = self.roots[0]
            for folder in (delegation.v2, v2):
                folder.mkdir(exist_ok=True)
                _enable(folder, delegation.v2_controllers)
            (v2 / "m").mkdir(exist_ok=True)
            (v2 / "sup").mkdir(exist_ok=True)
            self._give_machines({"pids"})
            if "pids" in delegation.v2_controllers:
                _write(v2 / "pids.max", str(pids_max))
        if delegation.v1_memory:
            (self.roots[-1] / "m").mkdir(parents=True, exist_ok=True)
            (self.roots[-1] / "sup").mkdir(exist_ok=True)

    def _give_machines(self, controllers: set[str]) -> None:
        """Enable these controllers (of the delegated ones) for the machines' folders, from now on.
        Only what a machine of the lab uses: a controller's state in each folder costs its creation
        (memory's and cpu's per-CPU structures: most of a machine's ~1 ms of cgroup folders) and,
        for cpu, every scheduling decision in the machine a level more."""
        new = controllers & self.d.v2_controllers - self._in_m
        _enable(self.roots[0] / "m", new)
        self._in_m |= new

    def join_supervisor(self) -> None:
        for root in self.roots:
            _write(root / "sup" / "cgroup.procs", "0")

    def machine(self, name: str, mem: str | None, cpus: float | None, pids: int) -> list[str]:
        """Make the machine's cgroup folders: m/<name> holds the limits, its leaf/ the processes
        (returned: the init and every command join them). The machine's cgroup namespace is
        rooted at the leaf, so what it can see and write is below the limits, never them.
        Every hierarchy gets one, with or without a limit: machine root may mount a hierarchy in
        its cgroup namespace, and its files are machine root's to write (they belong to the user's
        uid), so the namespace's root there must hold the machine's processes and nothing else."""
        folders = []
        if self.d.v2:
            self._give_machines({c for c, wanted in (("memory", mem), ("cpu", cpus)) if wanted})
        for root in self.roots:
            v2 = root.parent == self.d.v2
            folder = root / "m" / name
            _clear(folder)
            folder.mkdir()
            (folder / "leaf").mkdir()
            folders.append(str(folder / "leaf"))
            if v2:
                for knob, value in (("cgroup.max.descendants", "64"), ("cgroup.max.depth", "4")):
                    _write(folder / knob, value)  # on m/<name>, out of the machine's sight
                if mem and "memory" in self.d.v2_controllers:
                    _write(folder / "memory.max", str(parse_bytes(mem)))
                    if (folder / "memory.swap.max").exists():
                        _write(folder / "memory.swap.max", "0")
                if cpus and "cpu" in self.d.v2_controllers:
                    _write(folder / "cpu.max", f"{max(1000, int(cpus * 100000))} 100000")
                if "pids" in self.d.v2_controllers:
                    _write(folder / "pids.max", str(pids))
            elif mem:
                _write(folder / "memory.limit_in_bytes", str(parse_bytes(mem)))
                if (folder / "memory.memsw.limit_in_bytes").exists():
                    _write(folder / "memory.memsw.limit_in_bytes", str(parse_bytes(mem)))
        return folders

    def forget(self, name: str) -> None:
        """After the machine stopped: whatever of it is left is killed (cgroup v2), and its
        folders go once empty (if they cannot yet, its next start waits for them: _clear)."""
        for root in self.roots:
            _kill(root / "m" / name)
            _remove_tree(root / "m" / name)

    def remove(self) -> None:
        for root in self.roots:
            _remove_tree(root)


CLEAR_TIMEOUT = 5.0  # s: a machine's processes end within milliseconds of its init's death


def _kill(folder: Path) -> None:
    """SIGKILL every process in a cgroup v2 folder and below (Linux 5.14+; elsewhere nothing)."""
    try:
        _write(folder / "cgroup.kill", "1")
    except OSError:
        pass


def _clear(folder: Path) -> None:
    """Remove a machine's folder from its last run. A machine's processes die asynchronously
    after its init is killed (the kernel tears its namespaces down first, and each command's
    nk-enter ends only after its command): until they have, its folder is busy. Whatever is
    still there is the old machine's: it is killed, and the new start waits for it to end."""
    _remove_tree(folder)
    if not folder.is_dir():
        return
    _kill(folder)
    deadline, pause = time.monotonic() + CLEAR_TIMEOUT, 0.001
    while folder.is_dir():
        if time.monotonic() > deadline:
            raise OSError(errno.EBUSY, f"processes of its last run have not ended after {CLEAR_TIMEOUT:g} s "
                                       f"(cgroup {folder})")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        _remove_tree(folder)


def _remove_tree(folder: Path) -> None:
    """rmdir a cgroup folder and its children, deepest first (cgroup folders are removed by rmdir;
    a folder is listed only when it has children: a cgroup folder holds dozens of files)."""
    try:
        os.rmdir(folder)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass
    try:
        with os.scandir(folder) as entries:
            children = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for child in children:
        _remove_tree(Path(child))
    try:
        os.rmdir(folder)
    except OSError:
        pass


def run_folder(lab_id: str, run: str) -> str:
    return f"lab-{lab_id}@{run}"  # ("@" is in no lab id: stateroot.lab_id)


def _lab_folders(parent: Path, lab_id: str) -> list[Path]:
    """Every run's folders of a lab (a lab id has no glob character)."""
    return list(parent.glob(f"lab-{lab_id}@*"))


def remove_lab(lab_id: str, run: str | None = None, env: dict[str, str] | None = None) -> None:
    """Remove the folders of a lab's run (without run: of all its runs, for a lab that is not
    running), once its processes are gone."""
    d = Delegation.find(env)
    for p in (d.v2, d.v1_memory):
        if p:
            for folder in [p / run_folder(lab_id, run)] if run else _lab_folders(p, lab_id):
                _remove_tree(folder)




def remove_lab_cgroups(env: dict[str, str] | None = None) -> None:
    """Remove every lab-* cgroup of this user's (for `nk wipe`, once no supervisor runs)."""
    d = Delegation.find(env)
    for p in (d.v2, d.v1_memory):
        if p:
            for lab in p.glob("lab-*"):
                _remove_tree(lab)
