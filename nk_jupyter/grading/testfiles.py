"""The user tests of a lab's `_test/` folder, in both Netkit layouts.

- Netkit 2.8:  _test/MACHINE.test
- Netkit-JH:   _test/scripts/MACHINE.test and _test/scripts/shared.test (shared.test is
  also accepted directly in _test/)

A script runs by its shebang when it is executable and has one, else by bash (as
Netkit-JH does). Problems are LabConfError naming the file (and line where there is one):
a test for a machine the lab does not have, the same machine in both layouts, a folder
where a script should be, Windows line endings, an interpreter that does not exist.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LabConfError

TEST_DIR = "_test"
SHARED = "shared"


@dataclass
class Script:
    """One test script: where it is on the host and how the machine runs it."""
    path: Path          # on the host
    relative: str       # inside the lab folder, e.g. "_test/scripts/pc1.test"
    direct: bool        # executable with a shebang: run as is, else `bash FILE`

    def command(self, stdout: str, stderr: str) -> str:
        """The shell command that runs this script in a machine (cwd /root), output to files."""
        target = shlex.quote(f"/hostlab/{self.relative}")
        runner = target if self.direct else f"bash {target}"
        return f"cd /root && {runner} >{shlex.quote(stdout)} 2>{shlex.quote(stderr)} </dev/null"


@dataclass
class UserTests:
    """The lab's test scripts: per machine, and the shared one (run on every machine)."""
    machines: dict[str, Script] = field(default_factory=dict)
    shared: Script | None = None

    def for_machine(self, name: str) -> list[tuple[str, Script]]:
        """(result suffix, script) in Netkit-JH order: shared first, then the machine's own."""
        out = []
        if self.shared:
            out.append(("shared", self.shared))
        if name in self.machines:
            out.append(("user", self.machines[name]))
        return out


def find_tests(lab_dir: Path, machines: list[str]) -> UserTests:
    """Collect and check the scripts of lab_dir/_test; LabConfError on a malformed one."""
    found = UserTests()
    base = lab_dir / TEST_DIR
    if not base.exists():
        return found
    if not base.is_dir():
        raise LabConfError(base, None, "should be a folder (of test scripts)")
    for folder in (base, base / "scripts"):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            if not entry.name.endswith(".test") or entry.name.startswith("."):
                continue
            name = entry.name[:-len(".test")]
            script = _script(lab_dir, entry)
            if name == SHARED:
                if found.shared is not None:
                    raise LabConfError(entry, None, f"a second shared test (the first is {found.shared.path}); keep one")
                found.shared = script
            elif name not in machines:
                raise LabConfError(entry, None, f"a test for machine {name!r}, which this lab does not have "
                                                f"(machines: {', '.join(machines) or 'none'})")
            elif name in found.machines:
                raise LabConfError(entry, None, f"a second test for {name} (the first is "
                                                f"{found.machines[name].path}); keep one layout")
            else:
                found.machines[name] = script
    return found


def _script(lab_dir: Path, path: Path) -> Script:
    if not path.is_file():
        raise LabConfError(path, None, "should be a test script (a regular file)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LabConfError(path, None, f"cannot be read: {e.strerror}") from None
    first, _, _ = data.partition(b"\n")
    if b"\r\n" in data:
        line = data[:data.index(b"\r\n")].count(b"\n") + 1
        raise LabConfError(path, line, "has Windows (CRLF) line endings, which the shell cannot run; "
                                       "convert it (dos2unix)")
    if b"\0" in data:
        raise LabConfError(path, None, "is a binary file, not a test script")
    direct = False
    if first.startswith(b"#!"):
        interpreter = first[2:].decode("utf-8", "replace").split()
        if not interpreter:
            raise LabConfError(path, 1, "the #! line names no interpreter")
        if not os.path.exists(interpreter[0]):
            raise LabConfError(path, 1, f"interpreter {interpreter[0]} does not exist in the machines")
        direct = os.access(path, os.X_OK)
    return Script(path, path.relative_to(lab_dir).as_posix(), direct)
