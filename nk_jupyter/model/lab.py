"""A whole lab: machines in boot-list order, collision domains, metadata, boot dependencies."""
from __future__ import annotations

from ..records import dataclass, field
from pathlib import Path

from nk_jupyter.errors import UnknownMachineError
from nk_jupyter.model.link import Link
from nk_jupyter.model.machine import Machine

METADATA_KEYS = ("LAB_DESCRIPTION", "LAB_VERSION", "LAB_AUTHOR", "LAB_EMAIL", "LAB_WEB", "LAB_NAME")


@dataclass
class Lab:
    """A parsed lab folder. Built by nk_jupyter.labconf.load_lab; no I/O here.

    - machines: in boot-list order (machines=/LAB_MACHINES=, else lab.conf, else folders).
    - dependencies: lab.dep, target -> prerequisites (each a machine of the lab).
    - has_dep_file: lab.dep exists, even empty (Netkit then starts machines in parallel).
    """

    name: str
    directory: Path
    machines: dict[str, Machine] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    dependencies: dict[str, list[str]] = field(default_factory=dict)
    has_dep_file: bool = False
    warnings: list[str] = field(default_factory=list)
    ignored_folders: list[str] = field(default_factory=list)
    sh_is_bash: str = ""  # why this lab's machines get bash as /bin/sh (labconf/compat.py), or ""

    def machine(self, name: str) -> Machine:
        """The machine called `name`; UnknownMachineError if the lab has none."""
        try:
            return self.machines[name]
        except KeyError:
            raise UnknownMachineError(name, list(self.machines)) from None

    def boot_levels(self, selected: list[str] | None = None) -> list[list[str]]:
        """Machines grouped in levels: each level boots after every earlier one.

        Level 0 holds machines without prerequisites; a machine sits one level above its
        deepest prerequisite. Selected machines pull in their prerequisites (as Netkit's
        make-based start does). Within a level the boot-list order is kept.
        """
        names = list(self.machines) if selected is None else list(selected)
        for name in names:
            self.machine(name)
        wanted = self._with_prerequisites(names)
        level = dependency_levels({n: self._prerequisites(n) for n in self.machines if n in wanted})
        levels: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for name in self.machines:
            if name in wanted:
                levels[level[name]].append(name)
        return levels

    def _with_prerequisites(self, names: list[str]) -> set[str]:
        wanted: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name not in wanted:
                wanted.add(name)
                todo.extend(self._prerequisites(name))
        return wanted

    def _prerequisites(self, name: str) -> list[str]:
        deps = self.dependencies.get(name, [])
        for dep in deps:
            self.machine(dep)
        return deps

    def startup_path(self, name: str) -> Path:
        """MACHINE.startup in the lab folder (it may not exist)."""
        return self.directory / f"{self.machine(name).name}.startup"

    def shutdown_path(self, name: str) -> Path:
        """MACHINE.shutdown in the lab folder (it may not exist)."""
        return self.directory / f"{self.machine(name).name}.shutdown"

    @property
    def shared_startup(self) -> Path:
        """shared.startup: run on every machine before MACHINE.startup (may not exist)."""
        return self.directory / "shared.startup"

    @property
    def shared_shutdown(self) -> Path:
        """shared.shutdown: run on every machine after MACHINE.shutdown (may not exist)."""
        return self.directory / "shared.shutdown"

    @property
    def shared_folder(self) -> Path:
        """shared/: copied into every machine before MACHINE/ (may not exist)."""
        return self.directory / "shared"


def find_cycle(deps: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path (a -> b -> a), or None. Iterative: any depth."""
    grey, black = 1, 2
    color: dict[str, int] = {}
    for start in deps:
        if color.get(start):
            continue
        color[start] = grey
        path, stack = [start], [iter(deps.get(start, []))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                color[path.pop()] = black
                stack.pop()
            elif color.get(nxt) == grey:
                return path[path.index(nxt):] + [nxt]
            elif not color.get(nxt):
                color[nxt] = grey
                path.append(nxt)
                stack.append(iter(deps.get(nxt, [])))
    return None


def dependency_levels(deps: dict[str, list[str]]) -> dict[str, int]:
    """Level of each machine in deps (its keys): one above its deepest prerequisite.
    ValueError for a cycle. Iterative (Kahn's order): any depth."""
    cycle = find_cycle(deps)
    if cycle:
        raise ValueError(f"dependency cycle: {' -> '.join(cycle)}")
    users: dict[str, list[str]] = {n: [] for n in deps}
    waiting = {n: 0 for n in deps}
    for name, prereqs in deps.items():
        for p in prereqs:
            if p in deps:
                users[p].append(name)
                waiting[name] += 1
    level = {n: 0 for n in deps}
    ready = [n for n, w in waiting.items() if w == 0]
    while ready:
        name = ready.pop()
        for user in users[name]:
            level[user] = max(level[user], level[name] + 1)
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return level
