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
import stat
from ..records import dataclass, field
from pathlib import Path

from ..errors import LabConfError
from ..labconf.files import Folder

TEST_DIR = "_test"
SHARED = "shared"


@dataclass
class Script:
    """One test script: where it is on the host and how the machine runs it."""
    path: Path          # on the host
    relative: str       # inside the lab folder, e.g. "_test/scripts/pc1.test"
    direct: bool        # executable with a shebang: run as is, else `bash FILE` (sh on an image without bash)

    def command(self, stdout: str, stderr: str) -> str:
        """The shell command that runs this script in a machine (cwd /root), output to files."""
        target = shlex.quote(f"/hostlab/{self.relative}")
        if self.direct:
            return f"cd /root && {target} >{shlex.quote(stdout)} 2>{shlex.quote(stderr)} </dev/null"
        shell = "$(command -v bash || echo sh)"  # a machine on a container image may have no bash
        return f"cd /root && {shell} {target} >{shlex.quote(stdout)} 2>{shlex.quote(stderr)} </dev/null"


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
    """Collect and check the scripts of lab_dir/_test; LabConfError on a malformed one.

    Read through descriptors without following symlinks (a lab may be untrusted)."""
    found = UserTests()
    with Folder.lab(lab_dir) as lab:
        base = lab.sub(TEST_DIR)
        if base is None:
            return found
        with base:
            scripts = base.sub("scripts")
            for folder in (base, scripts):
                if folder is None:
                    continue
                for fname, kind in folder.entries():
                    if not fname.endswith(".test") or fname.startswith("."):
                        continue
                    name = fname[:-len(".test")]
                    script = _script(lab_dir, folder, fname, kind)
                    entry = folder.path / fname
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
            if scripts is not None:
                scripts.close()
    return found


def _script(lab_dir: Path, folder: Folder, fname: str, kind: int) -> Script:
    path = folder.path / fname
    if kind != stat.S_IFREG:
        raise LabConfError(path, None, "should be a test script (a regular file, not a symlink)")
    data = folder.read(fname)
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
        direct = bool(os.stat(fname, dir_fd=folder.fd, follow_symlinks=False).st_mode & 0o111)
    return Script(path, path.relative_to(lab_dir).as_posix(), direct)
