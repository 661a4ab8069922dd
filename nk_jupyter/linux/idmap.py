"""Sub-ID ranges and the newuidmap/newgidmap calls that map a lab's user namespace.

The map is RootlessKit's: inner 0 -> the user, then every /etc/subuid range from inner 1
on, so daemons that drop to their own users (frr, bind) have real IDs. With no range we
fall back to a single-ID map (0 -> the user) and say so.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from ..records import dataclass

from ..errors import HostSetupError


@dataclass(frozen=True)
class Range:
    start: int
    count: int


def subid_ranges(kind: str, uid: int | None = None) -> list[Range]:
    """The user's ranges from /etc/subuid or /etc/subgid (kind is "uid" or "gid")."""
    uid = os.getuid() if uid is None else uid
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    ranges = []
    try:
        with open(f"/etc/sub{kind}") as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] in (name, str(uid)):
                    ranges.append(Range(int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return ranges


def map_args(own: int, ranges: list[Range]) -> list[str]:
    """Arguments after the pid for newuidmap: '0 own 1' then each range from inner 1."""
    args = ["0", str(own), "1"]
    inner = 1
    for r in ranges:
        args += [str(inner), str(r.start), str(r.count)]
        inner += r.count
    return args


@dataclass
class IdMap:
    uid_ranges: list[Range]
    gid_ranges: list[Range]

    @property
    def full(self) -> bool:
        return bool(self.uid_ranges and self.gid_ranges and shutil.which("newuidmap") and shutil.which("newgidmap"))

    def apply(self, pid: int) -> None:
        """Write the maps of process pid (which has just unshared its user namespace)."""
        if self.full:  # both at once (each is a setuid program's start: a few ms)
            runs, failed = [], None
            try:
                for tool, own, ranges in (("newuidmap", os.getuid(), self.uid_ranges),
                                          ("newgidmap", os.getgid(), self.gid_ranges)):
                    runs.append((tool, subprocess.Popen([tool, str(pid), *map_args(own, ranges)],
                                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                        stderr=subprocess.PIPE, text=True)))
            except OSError as e:
                failed = f"cannot run newuidmap/newgidmap: {e}"
            done = [(tool, proc.communicate()[1], proc.returncode) for tool, proc in runs]  # (each reaped)
            if failed:
                raise HostSetupError(failed)
            for tool, err, code in done:
                if code != 0:
                    raise HostSetupError(f"{tool} failed: {err.strip()} "
                                         f"(check /etc/sub{tool[3:6]} and that {tool} is setuid root)")
            return
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(f"0 {os.getuid()} 1\n")
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny\n")
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(f"0 {os.getgid()} 1\n")


def current_idmap() -> IdMap:
    return IdMap(subid_ranges("uid"), subid_ranges("gid"))
