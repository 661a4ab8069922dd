"""Where a lab's runtime state lives (RootlessKit's state dir, one per lab).

Root: $XDG_RUNTIME_DIR/nk when that is set and ours, else /dev/shm/nk-<uid>, else
/tmp/nk-<uid> (0700); a tmpfs is preferred (overlay upper dirs there are ~10x cheaper
than on a disk), but only one that can hold overlayfs's user.* xattrs (Linux 6.6+).
Each lab gets ROOT/<lab id>/ holding these documented files:

    lock            flock held by the lab's supervisor for as long as it lives
    supervisor.pid  host pid of the supervisor, written once it serves the API
    api.sock        the supervisor's API socket (engine/messages.py)
    lab.json        what was started: lab directory, overrides, owner, API version,
                    the backends' parts (template, images) and which runs each machine
    supervisor.log  the supervisor's own log
    nodes/<name>/   a machine's private files (Netkit's .disk): kept by lhalt,
                    discarded by lcrash and lclean
    logs/<name>.log a machine's startup output
    mnt/            where the supervisor mounts the lab's scratch tmpfs (in its own mount
                    namespace only)
The template of host files is ROOT/template-<fingerprint>/, one per user.

Anything else is internal and may change.
"""
from __future__ import annotations

import fcntl
import json
import os
import stat
from ..records import dataclass
from pathlib import Path

from ..errors import HostSetupError
from . import stateroot
from .stateroot import LABJSON, LOCK, LOG, PID, SOCK


def state_root() -> Path:
    """This user's nk state root, created 0700 and checked to be ours."""
    uid = os.getuid()
    root = Path(stateroot.root())
    try:
        root.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise HostSetupError(f"cannot create the nk state folder {root}: {e.strerror}") from None
    st = root.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise HostSetupError(f"{root} exists but is not a folder owned by you; remove it and retry")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(root, 0o700)
    return root


def lab_id(directory: Path) -> str:
    """A short, stable id for a lab folder: its name plus a hash of its absolute path."""
    return stateroot.lab_id(str(directory.resolve()))


@dataclass
class StateDir:
    path: Path

    @classmethod
    def for_lab(cls, directory: Path) -> "StateDir":
        return cls(state_root() / lab_id(directory))

    @property
    def sock(self) -> Path:
        return self.path / SOCK

    @property
    def log(self) -> Path:
        return self.path / LOG

    def node_dir(self, name: str) -> Path:
        return self.path / "nodes" / name

    def startup_log(self, name: str) -> Path:
        return self.path / "logs" / f"{name}.log"

    def create(self) -> None:
        self.path.mkdir(mode=0o700, exist_ok=True)
        (self.path / "nodes").mkdir(exist_ok=True)
        (self.path / "logs").mkdir(exist_ok=True)

    def read_json(self) -> dict:
        return stateroot.read_json(str(self.path))

    def write_json(self, data: dict) -> None:
        tmp = self.path / f"{LABJSON}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        tmp.rename(self.path / LABJSON)

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.path / PID).read_text())
        except (OSError, ValueError):
            return None

    def is_live(self) -> bool:
        """True while a supervisor holds the lock."""
        return stateroot.is_live(str(self.path))

    def take_lock(self) -> int:
        """Take the lab lock for this process (and its children); returns the fd."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd


def all_roots() -> list[Path]:
    """Every place this user's nk state may be (for `nk wipe`), existing and ours."""
    uid = os.getuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    out = []
    for p in ([Path(xdg) / "nk"] if xdg else []) + [Path(f"/dev/shm/nk-{uid}"), Path(f"/tmp/nk-{uid}")]:
        try:
            st = p.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid:
            out.append(p)
    return out


def all_states() -> list[StateDir]:
    root = state_root()
    return [StateDir(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def live_states() -> list[tuple[StateDir, dict]]:
    """(state, its lab.json) of every lab of this user a supervisor serves now."""
    return [(s, s.read_json()) for s in all_states() if s.is_live()]
