"""Host side of a lab (RootlessKit's parent): state dir, template, supervisor, id maps.

This module never enters a namespace itself; it starts a fresh supervisor process
(engine/supervisor.py) and answers its handshake. Safe to call from a threaded
process such as a Jupyter kernel (subprocess uses posix_spawn/vfork-safe code).
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from ..backends.namespaces import template
from ..errors import EngineError, HostSetupError, LabAlreadyRunningError, from_wire
from ..linux import preflight
from ..linux.idmap import current_idmap
from .statedir import StateDir, state_root

PKG_PARENT = str(Path(__file__).resolve().parent.parent.parent)
READY_TIMEOUT = 60.0


# What of the caller's environment the supervisor keeps: nothing else of a Jupyter kernel's or
# a shell's (tokens, LD_*, PYTHON* hooks) reaches the lab.
KEPT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "NK_CGROUP", "NK_CGROUP_MEMORY",
            "NK_PROFILE", "XDG_RUNTIME_DIR")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    theirs = os.environ.get("PYTHONPATH")  # the user's own (where nk's dependencies may be)
    env["PYTHONPATH"] = PKG_PARENT + (os.pathsep + theirs if theirs else "")
    return env


def _spawn(head: str, rest: list[str], log_path: Path | None, keep: tuple[int, ...] = ()
           ) -> tuple[subprocess.Popen, int, int]:
    """Start `python -m nk_jupyter.engine.supervisor HEAD R W REST...`; returns (proc, read end, write end)."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nk_jupyter.engine.supervisor", head, str(to_child_r), str(from_child_w), *rest],
            pass_fds=(to_child_r, from_child_w, *keep), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, env=_env(), close_fds=True, cwd="/")
    finally:
        if log_path:
            log.close()
        os.close(to_child_r)
        os.close(from_child_w)
    return proc, from_child_r, to_child_w


def _read(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    return os.read(fd, 65536)


def _map(proc: subprocess.Popen, r: int, w: int) -> bool:
    """Answer the supervisor's handshake: map its user namespace. Returns True for a full map."""
    first = _read(r, READY_TIMEOUT)
    if first.startswith(b"E "):
        proc.wait()
        raise _handshake_error(first)
    if first != b"U":
        proc.kill()
        raise HostSetupError("could not create a user namespace (is unprivileged user namespace creation allowed?)")
    idmap = current_idmap()
    try:
        idmap.apply(proc.pid)
    except (HostSetupError, OSError) as e:
        proc.kill()
        raise HostSetupError(f"cannot map the lab's user namespace: {e}") from None
    os.write(w, b"M" if idmap.full else b"S")
    return idmap.full


def ensure_template() -> Path:
    """This user's template of host files, built once per host-file fingerprint."""
    root = state_root()
    path = root / f"template-{template.fingerprint()}"
    if path.is_dir() and (path / "owners.json").exists() and not any(root.glob(".building-*")):
        return path
    lock = os.open(root / ".template.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = list(root.glob(".building-*"))  # builders hold the lock: these are from killed ones
        if stale:
            remove_trees(stale)
        if not (path / "owners.json").exists():
            tmp = root / f".building-{os.getpid()}"
            tmp.mkdir(mode=0o700)
            try:
                template.build(tmp)
                tmp.rename(path)
            except BaseException:
                remove_trees([tmp])
                raise
            _prune_templates(root, keep=path)
    finally:
        os.close(lock)
    return path


def _prune_templates(root: Path, keep: Path) -> None:
    """Remove older templates that no live lab uses."""
    from .statedir import all_states
    used = {s.read_json().get("template") for s in all_states() if s.is_live()}
    old = [p for p in root.glob("template-*") if p != keep and str(p) not in used]
    if old:
        remove_trees(old)


def start_supervisor(state: StateDir, directory: Path, overrides: list[str], owner: dict | None = None) -> list[str]:
    """Start the lab's supervisor and wait until it serves api.sock. Returns warnings.

    The lab's lock is taken here, before lab.json is written, and handed to the supervisor
    (an inherited descriptor of the same flock): of two lstarts at once, the second is told
    that the first holds the lab.
    """
    warnings = preflight.check()
    state.create()
    if state.is_live():
        raise LabAlreadyRunningError(f"the lab in {directory} is already running (nk lhalt -d {directory} stops it)")
    lock = _take_lock(state, directory)
    try:
        tpl = ensure_template()
        state.write_json({"directory": str(directory), "overrides": list(overrides), "template": str(tpl),
                          "owner": owner or {}, "started": time.time(),
                          "pids": int(os.environ.get("NK_LAB_PIDS") or 0) or lab_pid_budget(),
                          "storage": int(os.environ.get("NK_STORAGE") or 0) or default_storage(),
                          "user_limits": _user_limits()})
        proc, r, w = _spawn(str(state.path), [str(lock)], state.log, keep=(lock,))
    finally:
        os.close(lock)
    try:
        _map(proc, r, w)
        answer = _read(r, READY_TIMEOUT)
    finally:
        os.close(w)
        os.close(r)
    if answer == b"R":
        return warnings
    proc.kill()
    proc.wait()
    if answer.startswith(b"E "):
        raise _handshake_error(answer)
    raise EngineError("the lab supervisor did not start; its log:\n" + tail(state.log))


def _take_lock(state: StateDir, directory: Path) -> int:
    for attempt in range(20):  # a probe (is_live) may hold it for an instant
        try:
            return state.take_lock()
        except BlockingIOError:
            if state.is_live():
                break
            time.sleep(0.005)
    raise LabAlreadyRunningError(f"another nk lstart holds the lab in {directory} (it is starting or running); "
                                 f"wait for it, or stop it with nk lhalt / nk lcrash -d {directory}")


def _handshake_error(answer: bytes) -> Exception:
    try:
        info = json.loads(answer[2:])
    except ValueError:
        info = answer[2:].decode(errors="replace")
    if isinstance(info, dict):
        return from_wire(info.get("kind", "EngineError"), info.get("message", ""), info.get("fields"))
    return EngineError(f"the lab supervisor failed: {info}")


def lab_pid_budget() -> int:
    """Processes (threads included) a lab may have at once: half of what the host has left and
    half of what this user has left under RLIMIT_NPROC (which counts all of the user's
    processes, the lab's included: a fork bomb in a lab must leave the user's own shells able
    to fork). Read here, in the host's pid namespace (pid_max is per pid namespace since 6.14)."""
    import resource
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        tasks = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        pid_max, tasks = 32768, 1024
    budget = (pid_max - tasks) // 2
    soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if soft != resource.RLIM_INFINITY and os.getuid() != 0:
        mine = sum(len(os.listdir(f"/proc/{p}/task")) for p in os.listdir("/proc") if p.isdigit() and _owned(p))
        budget = min(budget, (soft - mine) // 2)
    return max(256, min(1 << 20, budget))


def _owned(pid: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def _user_limits() -> dict[str, int]:
    """The host's per-user limits on namespaces and inotify (read here: the supervisor sees its own)."""
    out = {}
    for f in Path("/proc/sys/user").glob("max_*"):
        try:
            out[f.name] = int(f.read_text())
        except (OSError, ValueError):
            pass
    return out


def default_storage() -> int:
    """Bytes a lab's machines may write into memory (their scratch tmpfs): a quarter of RAM, at
    most 8 GiB, and at most half of what the state root has free (machine files kept by lhalt
    are copied there: a lab must not fill the user's $XDG_RUNTIME_DIR)."""
    total = 4 << 30
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
    except OSError:
        pass
    st = os.statvfs(state_root())
    return max(64 << 20, min(8 << 30, total // 4, st.f_bavail * st.f_frsize // 2))


def remove_trees(paths: list[Path]) -> None:
    """Remove folders that hold files owned by sub-IDs (only the lab's user namespace can)."""
    paths = [p for p in paths if p.exists()]
    if not paths:
        return
    proc, r, w = _spawn("--rm", [str(p) for p in paths], None)
    try:
        _map(proc, r, w)
        _read(r, READY_TIMEOUT)
    finally:
        os.close(w)
        os.close(r)
        proc.wait(timeout=READY_TIMEOUT)
    from ..linux.paths import remove_tree
    for p in paths:
        remove_tree(p)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
