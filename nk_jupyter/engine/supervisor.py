"""The lab supervisor: `nk_jupyter.engine.supervisor STATE_DIR SOCK LOCK` (selfrun.argv runs main()).

RootlessKit's child half, in Python. Started fresh by engine/launch.py (never the
caller's own process: a Jupyter kernel is multi-threaded and cannot unshare a user
namespace). Handshake over the socketpair SOCK (engine/messages.py):

    supervisor: unshare(USER)                      -> ChildHello
    launcher:   newuidmap/newgidmap                -> ParentMapped (+ the backends' descriptors)
    supervisor: becomes root; forks the host-side helper (uplinks/helper.py: uplinks, ports);
                unshares mount, net (the hub), pid, uts, ipc; forks the lab's
                pid 1, which opens the backends (backends/) and serves api.sock
                                                   -> ChildReady (or ChildFailed)

If the supervisor dies, its pid-1 child gets SIGKILL (PDEATHSIG); when that dies the
kernel kills every machine, since all live in its pid namespace.
With --rm PATH... it only removes those trees (owned by sub-IDs) and exits.
"""
from __future__ import annotations

import os
import signal
import socket
import sys

from .. import wire
from ..linux import ns


def _handshake(sock: socket.socket, preload: bool = True) -> tuple[bool, list[int]]:
    """Make our user namespace and have the launcher map it; returns (full map, the backends'
    descriptors). The launcher's newuidmap/newgidmap take ~10 ms: we import meanwhile."""
    from . import messages as msg  # (~4 ms: the rest of the imports still outlast the map)
    ns.unshare(ns.CLONE_NEWUSER)
    wire.send(sock, msg.handshake_frame(msg.ChildHello(os.getpid())))
    try:
        if preload:
            _preload()
        failed = None
    except Exception as e:  # told once the launcher has mapped us (it is waiting for that answer)
        failed = e
    frame, fds = wire.recv(sock)
    if failed is not None:
        raise failed
    mapped = msg.handshake_parse(frame)
    if not isinstance(mapped, msg.ParentMapped):
        raise wire.ProtocolError(f"handshake: expected ParentMapped, not {type(mapped).__name__}")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    if mapped.full:
        os.setgroups([])
    return mapped.full, fds


def _preload() -> None:
    """What serving a lab imports (its pid 1 and the uplink helper inherit them)."""
    import pathlib  # noqa: F401
    import resource  # noqa: F401
    from .. import backends, helpers, labconf, uplinks, wire_schema  # noqa: F401
    from ..backends import namespaces  # noqa: F401
    from ..backends.namespaces import session, zygote  # noqa: F401  (opened by every lab)
    from ..linux import cgroups, seccomp, spawn  # noqa: F401
    from ..uplinks import helper  # noqa: F401
    from . import handlers, loop, messages, monitor, runtime, statedir  # noqa: F401


def _profiled(state_dir, *args) -> None:
    """_serve under cProfile: its stats in STATE/profile.txt (sorted by NK_PROFILE_SORT), or, when
    NK_PROFILE is an absolute path, there (raw, for pstats, if it ends with .prof)."""
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.runcall(_serve, state_dir, *args)
    out = os.environ["NK_PROFILE"]
    if out.startswith("/") and out.endswith(".prof"):
        prof.dump_stats(out)
        return
    with open(out if out.startswith("/") else state_dir / "profile.txt", "w") as f:
        pstats.Stats(prof, stream=f).sort_stats(os.environ.get("NK_PROFILE_SORT", "cumulative")).print_stats(40)


def _failed(sock: socket.socket, e: BaseException) -> None:
    from . import messages as msg
    from ..errors import NkError, to_wire
    info = to_wire(e) if isinstance(e, NkError) else {"kind": "EngineError", "message": str(e), "fields": {}}
    try:
        wire.send(sock, msg.handshake_frame(msg.ChildFailed(info["kind"], info["message"], info.get("fields") or {})))
    except OSError:
        pass


def _serve(state_dir: Path, sock: socket.socket, host_pid: int, fds: list[int], helper: socket.socket) -> None:
    from .. import backends
    from .statedir import StateDir

    ns.mount("proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a big lab holds a few fds per machine
    state = StateDir(state_dir)
    conf = state.read_json()
    _share_user_limits(conf.get("user_limits") or {})
    sessions: dict = {}

    def emit(event) -> None:  # until the runtime exists, what backends say goes to the log
        print(f"nk: {event}", file=sys.stderr)
    emitter = [emit]
    start = 0
    for name, part in conf["backends"].items():  # namespaces first
        count = int(part.get("fd_count") or 0)
        context = backends.Context(state, conf, part, fds[start:start + count], sessions, lambda e: emitter[0](e),
                                   str(host_pid))
        start += count
        sessions[name] = backends.get(name).open(context)

    from ..labconf import load_lab
    from .handlers import Conn, Handlers, dispatch
    from .loop import Loop
    from .runtime import LabRuntime
    lab = load_lab(conf["directory"], conf.get("overrides") or (), force=True)
    from ..linux import seccomp
    seccomp.install()  # from here on: no keyrings, no setuid files, for all we start in machines
    from .. import helpers
    from ..linux import spawn
    spawner = spawn.Spawner(helpers.path("nk-spawn"))  # (after the filter: it is under it)
    spawn.use_spawner(spawner)
    loop = Loop()
    spawner.watch(loop.add_reader, loop.remove_reader)  # (the answers to spawn_soon: a boot's startups)
    rt = LabRuntime(lab, state, sessions, conf.get("machine_backends") or {}, loop.watch_exit)
    emitter[0] = rt.emit
    rt.send_events_now = loop.end_turn_now
    from ..model.uplinks import UplinkOptions
    from ..uplinks import Uplinks
    rt.uplinks = Uplinks(helper, wire.decode(UplinkOptions, conf.get("uplinks") or {}, "lab.json uplinks"), rt.hub)
    from .monitor import Monitors
    rt.monitors = Monitors(rt, loop)
    handlers = Handlers(rt, loop, host_pid)
    try:
        state.sock.unlink()
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(state.sock))
    server.listen(128)

    def accept() -> None:
        try:
            client, _ = server.accept()
        except OSError:
            return
        conn = Conn(client, loop)

        def readable() -> None:
            try:
                frame, got = wire.recv(client)
            except (EOFError, OSError, wire.ProtocolError):
                conn.close()
                return
            if conn.on_message:
                return conn.on_message(frame, got)
            try:
                dispatch(handlers, conn, frame, got)
            except Exception as e:  # errors go back to the client, typed
                from ..errors import NkError
                if not isinstance(e, NkError):
                    import traceback
                    traceback.print_exc()
                conn.error(e)
        loop.add_reader(client, readable)
    loop.add_reader(server, accept)
    (state.path / "supervisor.pid").write_text(str(host_pid))
    from . import messages as msg
    loop.stop_on_signals((signal.SIGTERM, signal.SIGHUP, signal.SIGINT))
    wire.send(sock, msg.handshake_frame(msg.ChildReady()))
    sock.close()
    from .. import records

    def make_the_rest() -> None:  # the record classes no request has used yet, once no machine boots
        if any(rec.state.starting for rec in rt.machines.values()):
            loop.call_later(1.0, make_the_rest)
        else:
            records.make_all()
    loop.call_later(1.0, make_the_rest)
    loop.run()
    rt.close()
    state.sock.unlink(missing_ok=True)
    (state.path / "supervisor.pid").unlink(missing_ok=True)


def _share_user_limits(host: dict[str, int]) -> None:
    """/proc/sys/user/max_* count per user up to the host's namespace (inotify instances are
    128 per user by default): the lab gets half of each, so its machines cannot use up what the
    user's own programs (a desktop, an editor) need. host: the values read on the host side."""
    for name, value in host.items():
        try:
            with open(f"/proc/sys/user/{name}", "w") as f:
                f.write(str(max(1, int(value) // 2)))
        except (OSError, ValueError):
            pass


def main(argv: list[str]) -> None:
    if argv[0] == "--rm":
        sock = socket.socket(fileno=int(argv[1]))
        os.chdir("/")
        _handshake(sock, preload=False)
        from ..linux import paths
        for path in argv[2:]:
            paths.remove_tree(path)
        from . import messages as msg
        wire.send(sock, msg.handshake_frame(msg.ChildReady()))
        return
    from pathlib import Path
    state_dir, sock = Path(argv[0]), socket.socket(fileno=int(argv[1]))
    sock.set_inheritable(False)  # no machine command may inherit the handshake socket
    host_pid = os.getpid()
    lock = int(argv[2])  # the lab's flock, taken by the launcher: held for as long as we live
    os.set_inheritable(lock, False)
    try:
        from ..linux import seccomp
        seccomp.new_session_keyring()  # nothing of the lab possesses the user's session keys
        _full, fds = _handshake(sock)
        for fd in fds:
            os.set_inheritable(fd, False)
        ns.not_dumpable()
        from ..uplinks.helper import fork_helper
        _helper_pid, helper = fork_helper()  # root of our user ns, left in the host's netns
        ns.unshare(ns.CLONE_NEWNS | ns.CLONE_NEWNET | ns.CLONE_NEWPID | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC)
        ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    except Exception as e:
        _failed(sock, e)
        os._exit(1)
    child = os.fork()
    if child == 0:
        try:
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            ns.sethostname("nk-hub")
            if os.environ.get("NK_PROFILE"):  # developer aid: cProfile stats of the supervisor
                _profiled(state_dir, sock, host_pid, fds, helper)
            else:
                _serve(state_dir, sock, host_pid, fds, helper)
            os._exit(0)
        except BaseException as e:
            import traceback
            traceback.print_exc()
            _failed(sock, e)
            os._exit(1)
    sock.close()
    helper.close()
    for fd in fds:
        os.close(fd)

    def forward(sig, _frame):
        try:
            os.kill(child, sig)
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    os.close(lock)  # the lab has stopped: its clients see it now, and it may start again
    from ..linux import cgroups
    cgroups.remove_lab(state_dir.name, str(host_pid))  # empty once the lab's pid namespace is gone
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
