"""Host side of a lab (RootlessKit's parent): state dir, template, supervisor, id maps.

This module never enters a namespace itself; it starts a fresh supervisor process
(engine/supervisor.py) and answers its handshake. Safe to call from a threaded
process such as a Jupyter kernel (subprocess uses posix_spawn/vfork-safe code).
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from .. import backends, selfrun, wire
from ..errors import EngineError, HostSetupError, LabAlreadyRunningError, from_wire
from ..linux import preflight
from ..linux.idmap import current_idmap
from . import messages as msg
from .statedir import StateDir, state_root

READY_TIMEOUT = 60.0


# What of the caller's environment the supervisor keeps: nothing else of a Jupyter kernel's or
# a shell's (tokens, LD_*, PYTHON* hooks) reaches the lab.
KEPT_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "NK_CGROUP", "NK_CGROUP_MEMORY",
            "NK_PROFILE", "NK_PROFILE_SORT", "NK_DOMAIN_HUB", "XDG_RUNTIME_DIR")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    if os.environ.get("PYTHONPATH"):  # the user's own (where nk's dependencies may be)
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return selfrun.env(env)


def _spawn(head: str, rest: list[str], log_path: Path | None, keep: tuple[int, ...] = ()
           ) -> tuple[subprocess.Popen, socket.socket]:
    """Start the supervisor (engine/supervisor.py) with HEAD SOCK REST...; returns (proc, our end)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            selfrun.argv("nk_jupyter.engine.supervisor", head, str(theirs.fileno()), *rest),
            pass_fds=(theirs.fileno(), *keep), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, env=_env(), close_fds=True, cwd="/")
    except BaseException:
        ours.close()
        raise
    finally:
        if log_path:
            log.close()
        theirs.close()
    ours.settimeout(READY_TIMEOUT)
    return proc, ours


def _receive(sock: socket.socket, kinds: tuple[type, ...]):
    """The supervisor's next handshake message, as one of kinds (ChildFailed raises its error)."""
    try:
        frame, fds = wire.recv(sock)
    except socket.timeout:
        raise EngineError(f"the lab supervisor did not answer within {READY_TIMEOUT:g} s") from None
    except (EOFError, OSError, wire.ProtocolError):
        return None
    for fd in fds:
        os.close(fd)
    try:
        answer = msg.handshake_parse(frame)
    except wire.ProtocolError as e:
        raise EngineError(f"the lab supervisor said something unexpected: {e}") from None
    if isinstance(answer, msg.ChildFailed):
        raise from_wire(answer.kind, answer.message, answer.fields)
    if not isinstance(answer, kinds):
        raise EngineError(f"the lab supervisor sent {type(answer).__name__} out of turn")
    return answer


def _map(proc: subprocess.Popen, sock: socket.socket, fds: list[int] = ()) -> bool:
    """Answer the supervisor's handshake: map its user namespace (and hand it fds). Returns True
    for a full map."""
    try:
        hello = _receive(sock, (msg.ChildHello,))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if hello is None:
        proc.kill()
        raise HostSetupError("could not create a user namespace (is unprivileged user namespace creation allowed?)")
    idmap = current_idmap()
    try:
        idmap.apply(proc.pid)
    except (HostSetupError, OSError) as e:
        proc.kill()
        raise HostSetupError(f"cannot map the lab's user namespace: {e}") from None
    wire.send(sock, msg.handshake_frame(msg.ParentMapped(idmap.full)), fds=list(fds))
    return idmap.full


def host_services() -> backends.HostServices:
    from .statedir import live_states

    def in_use(backend: str, key: str) -> set[str]:
        values = (((conf.get("backends") or {}).get(backend) or {}).get(key) for _, conf in live_states())
        return {str(v) for v in values if v}
    return backends.HostServices(state_root(), remove_trees, in_use)


def prepare_backends(lab, policy: str, progress) -> tuple[dict, dict, list[int], list[str]]:
    """The host halves of the backends this lab needs: (their lab.json parts, which backend runs
    each machine that is not on the namespaces one, descriptors for the supervisor, warnings)."""
    policy = backends.check_policy(policy)
    host = host_services()
    images = [m.name for m in lab.machines.values() if m.options.image and policy != "host"]
    parts: dict[str, dict] = {}
    machine_backends: dict[str, str] = {}
    fds: list[int] = []
    warnings: list[str] = []
    try:
        base = backends.get("namespaces").prepare(backends.PrepareRequest(lab, list(lab.machines), host, policy, progress))
        parts["namespaces"] = base.conf
        warnings += base.warnings
        if images:
            done = backends.get("podman").prepare(backends.PrepareRequest(lab, images, host, policy, progress))
            warnings += done.warnings
            if done.machines:
                parts["podman"] = {**done.conf, "fd_count": len(done.fds)}
                fds += done.fds
                machine_backends.update({name: "podman" for name in done.machines})
            else:
                for fd in done.fds:
                    os.close(fd)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return parts, machine_backends, fds, warnings


def start_supervisor(state: StateDir, lab, overrides: list[str], owner: dict | None = None, images: str = "auto",
                     progress=None, uplinks=None) -> list[str]:
    """Start the lab's supervisor and wait until it serves api.sock. Returns warnings.

    The lab's lock is taken here, before lab.json is written, and handed to the supervisor
    (an inherited descriptor of the same flock): of two lstarts at once, the second is told
    that the first holds the lab. The backends' host halves run under the lock too.
    """
    directory = lab.directory
    from ..model.uplinks import UplinkOptions
    from .. import uplinks as uplinks_
    _check_machine_limit(len(lab.machines))
    uplink_options = uplinks or UplinkOptions()
    uplinks_.preflight(lab, uplink_options)  # a missing driver, tun or a port in use: an error, before anything
    warnings = preflight.check()
    state.create()
    if state.is_live():
        raise LabAlreadyRunningError(f"the lab in {directory} is already running (nk lhalt -d {directory} stops it)")
    lock = _take_lock(state, directory)
    fds: list[int] = []
    proc = sock = None
    try:
        # its Python starts and imports (most of a small lab's start) while we prepare; it reads
        # lab.json only after ParentMapped, sent once lab.json is written
        proc, sock = _spawn(str(state.path), [str(lock)], state.log, keep=(lock,))
        parts, machine_backends, fds, more = prepare_backends(lab, images, progress)
        warnings += more
        state.write_json({"api": msg.API_VERSION, "directory": str(directory), "overrides": list(overrides),
                          "owner": owner or {}, "started": time.time(), "images": images,
                          "uplinks": wire.encode(uplink_options), "machines": len(lab.machines),
                          "backends": parts, "machine_backends": machine_backends,
                          "pids": int(os.environ.get("NK_LAB_PIDS") or 0) or lab_pid_budget(),
                          "storage": int(os.environ.get("NK_STORAGE") or 0) or default_storage(),
                          "user_limits": _user_limits()})
    except BaseException:
        for fd in fds:
            os.close(fd)
        if proc is not None:
            proc.kill()
            proc.wait()
            sock.close()
        raise
    finally:
        os.close(lock)
    try:
        try:
            _map(proc, sock, fds)
        finally:
            for fd in fds:
                os.close(fd)
        answer = _receive(sock, (msg.ChildReady,))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        sock.close()
    if answer is not None:
        return warnings
    proc.kill()
    proc.wait()
    raise EngineError("the lab supervisor did not start; its log:\n" + tail(state.log))


def _check_machine_limit(adding: int) -> None:
    """NK_MAX_MACHINES (an admin's per-user limit, e.g. set by a JupyterHub spawner): the
    machines of this user's running labs plus the new lab's may not exceed it."""
    limit = os.environ.get("NK_MAX_MACHINES", "")
    if not limit.isdigit():
        return
    from .statedir import live_states
    running = sum(int(conf.get("machines") or 0) for _, conf in live_states())
    if running + adding > int(limit):
        raise HostSetupError(f"this lab has {adding} machine(s) and your running labs have {running}: more than the "
                             f"{limit} your administrator allows (NK_MAX_MACHINES); stop a lab first (nk vlist, nk lcrash)")


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
    from ..linux.paths import remove_tree
    left = []
    for p in paths:  # most trees are the user's own: no lab user namespace is needed for them
        try:
            remove_tree(p)
        except OSError:
            pass
        if p.exists() or p.is_symlink():
            left.append(p)
    paths = left
    if not paths:
        return
    proc, sock = _spawn("--rm", [str(p) for p in paths], None)
    try:
        _map(proc, sock)
        _receive(sock, (msg.ChildReady,))
    finally:
        sock.close()
        proc.wait(timeout=READY_TIMEOUT)
    for p in paths:
        remove_tree(p)


def terminate(state: StateDir, timeout: float = 10.0) -> None:
    """Stop a lab's supervisor by signal (one that does not answer, or speaks another API):
    TERM, then KILL; its machines die with its pid namespace."""
    import signal
    pid = state.supervisor_pid()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not pid or not state.is_live():
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + timeout
        while state.is_live() and time.monotonic() < end:
            time.sleep(0.01)


def our_supervisors(under: str | None = None) -> list[int]:
    """Pids of this user's nk supervisors (found by their module name in the command line).

    With under, only supervisors whose state folder is that folder (or inside it).
    """
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != os.getuid():
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"nk_jupyter.engine.supervisor" in argv:
            i = argv.index(b"nk_jupyter.engine.supervisor")
            state = argv[i + 1].decode(errors="replace") if len(argv) > i + 1 else ""
            if under is None or state == under or state.startswith(under.rstrip("/") + "/"):
                out.append(int(entry))
    return out


def wipe() -> tuple[int, int, list[Path]]:
    """Kill every supervisor of this user, remove the lab cgroups and everything in the state
    roots; returns (supervisors killed, entries removed, roots)."""
    import signal
    from ..linux.cgroups import remove_lab_cgroups
    from .statedir import all_roots
    pids = our_supervisors()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    while our_supervisors() and time.monotonic() < deadline:
        time.sleep(0.02)
    remove_lab_cgroups()
    roots = all_roots() or [state_root()]
    entries = [p for root in roots for p in root.iterdir()]
    remove_trees(entries)
    for root in roots:
        try:
            root.rmdir()
        except OSError:
            pass
    return len(pids), len(entries), roots


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
