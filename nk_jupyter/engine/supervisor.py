"""The lab supervisor: `python -m nk_jupyter.engine.supervisor STATE_DIR R W LOCK`.

RootlessKit's child half, in Python. Started fresh by engine/launch.py (never the
caller's own process: a Jupyter kernel is multi-threaded and cannot unshare a user
namespace). Handshake over the two pipes R (from the launcher) and W (to it):

    supervisor: unshare(USER)            -> writes "U"
    launcher:   newuidmap/newgidmap      -> writes "M" (or "S" for a single-ID map)
    supervisor: becomes root; unshares mount, net (the hub), pid, uts, ipc; forks
                the lab's pid 1, which serves api.sock  -> writes "R" (or "E <why>")

If the supervisor dies, its pid-1 child gets SIGKILL (PDEATHSIG); when that dies the
kernel kills every node, since all live in its pid namespace.
With --rm PATH... it only removes those trees (owned by sub-IDs) and exits.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path

from ..linux import ns


def _handshake(r: int, w: int) -> bool:
    ns.unshare(ns.CLONE_NEWUSER)
    os.write(w, b"U")
    answer = os.read(r, 1)
    if answer not in (b"M", b"S"):
        os._exit(3)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    if answer == b"M":
        os.setgroups([])
    return answer == b"M"


def _serve(state_dir: Path, w: int, full_map: bool, host_pid: int) -> None:
    from .statedir import StateDir

    ns.mount("proc", "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a big lab holds a few fds per machine
    state = StateDir(state_dir)
    conf = state.read_json()
    sandbox = _sandbox(state, conf)
    from ..backends.namespaces.zygote import Zygote
    zygote = Zygote()  # forked before the heavy imports below; inherits the sandbox's descriptors

    from ..backends.namespaces import template
    from ..labconf import load_lab
    from . import protocol
    from .handlers import Conn, Handlers, dispatch
    from .loop import Loop
    from .runtime import LabRuntime
    lab = load_lab(conf["directory"], conf.get("overrides") or (), force=True)
    tpl = Path(conf["template"])
    if not (tpl / ".owned").exists():
        template.restore_owners(tpl, full_map)
        (tpl / ".owned").touch()
    from ..linux import seccomp
    seccomp.install()  # from here on: no keyrings, no setuid files, for all we start in machines
    rt = LabRuntime(lab, state, str(tpl), full_map, zygote, sandbox)
    loop = Loop()
    rt.watch_exit = loop.watch_exit
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
            sock, _ = server.accept()
        except OSError:
            return
        conn = Conn(sock, loop)

        def readable() -> None:
            try:
                msg, fds = protocol.recv(sock)
            except (EOFError, OSError, protocol.ProtocolError):
                conn.close()
                return
            if conn.on_message:
                return conn.on_message(msg, fds)
            try:
                dispatch(handlers, conn, msg, fds)
            except Exception as e:  # errors go back to the client, typed
                from ..errors import NkError, to_wire
                if not isinstance(e, NkError):
                    traceback.print_exc()
                conn.send(to_wire(e))
        loop.add_reader(sock, readable)
    loop.add_reader(server, accept)
    (state.path / "supervisor.pid").write_text(str(host_pid))
    loop.stop_on_signals((signal.SIGTERM, signal.SIGHUP, signal.SIGINT))
    os.write(w, b"R")
    os.close(w)
    loop.run()
    for ms in rt.machines.values():
        if ms.node:
            ms.node.kill()
    state.sock.unlink(missing_ok=True)
    (state.path / "supervisor.pid").unlink(missing_ok=True)


def _sandbox(state, conf: dict):
    """What every machine of the lab shares (runtime.Sandbox): made once, before the zygote."""
    from ..backends.namespaces import machines_userns
    from ..linux import cgroups, paths
    from .runtime import Sandbox
    labfd = paths.open_dir(conf["directory"])
    mapped = ns.mapped_ids()
    _share_user_limits(conf.get("user_limits") or {})
    import resource
    lab_pids = min(int(conf.get("pids") or 16384), resource.getrlimit(resource.RLIMIT_NPROC)[1])
    usernsfd = machines_userns(mapped - 1 if mapped > 1 else 0, lab_pids)
    scratch = state.path / "mnt"
    scratch.mkdir(exist_ok=True)
    size = int(conf.get("storage") or 1 << 30)
    ns.mount("tmpfs", str(scratch), "tmpfs", ns.MS_NOSUID | ns.MS_NODEV,
             f"mode=700,size={size},nr_inodes={max(65536, size // 8192)}")
    try:
        os.setxattr(scratch, "user.nk-probe", b"1")
        os.removexattr(scratch, "user.nk-probe")
        disks_on_scratch = True
    except OSError:  # tmpfs keeps user xattrs only since Linux 6.6: upper dirs stay in the state dir
        disks_on_scratch = False
    lab_cgroups = None
    delegation = cgroups.Delegation.find()
    if delegation.controllers:
        try:
            lab_cgroups = cgroups.LabCgroups(delegation, state.path.name, lab_pids)
            lab_cgroups.join_supervisor()
        except OSError as e:
            from ..errors import HostSetupError
            where = " and ".join(str(p) for p in (delegation.v2, delegation.v1_memory) if p)
            raise HostSetupError(f"cannot use the delegated cgroup {where}: {e.strerror} (nk must run in a cgroup "
                                 "below it, e.g. its runner/ folder; see docs/security.md)") from None
    return Sandbox(labfd=labfd, usernsfd=usernsfd, mapped=mapped, scratch=scratch,
                   disks_on_scratch=disks_on_scratch, lab_pids=lab_pids, cgroups=lab_cgroups)


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
        r, w = int(argv[1]), int(argv[2])
        os.chdir("/")
        _handshake(r, w)
        from ..linux import paths
        for path in argv[3:]:
            paths.remove_tree(path)
        os.write(w, b"R")
        return
    state_dir, r, w = Path(argv[0]), int(argv[1]), int(argv[2])
    os.set_inheritable(r, False)  # no machine command may inherit the handshake pipes
    os.set_inheritable(w, False)
    host_pid = os.getpid()
    lock = int(argv[3])  # the lab's flock, taken by the launcher: held for as long as we live
    os.set_inheritable(lock, False)
    try:
        from ..linux import seccomp
        seccomp.new_session_keyring()  # nothing of the lab possesses the user's session keys
        full_map = _handshake(r, w)
        os.close(r)
        ns.not_dumpable()
        ns.unshare(ns.CLONE_NEWNS | ns.CLONE_NEWNET | ns.CLONE_NEWPID | ns.CLONE_NEWUTS | ns.CLONE_NEWIPC)
        ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    except Exception as e:
        os.write(w, f"E {json.dumps({'kind': 'EngineError', 'message': str(e)})}".encode())
        os._exit(1)
    child = os.fork()
    if child == 0:
        try:
            ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
            ns.sethostname("nk-hub")
            if os.environ.get("NK_PROFILE"):  # developer aid: cProfile stats in STATE/profile.txt
                import cProfile
                import pstats
                prof = cProfile.Profile()
                prof.runcall(_serve, state_dir, w, full_map, host_pid)
                with open(state_dir / "profile.txt", "w") as f:
                    pstats.Stats(prof, stream=f).sort_stats("cumulative").print_stats(40)
            else:
                _serve(state_dir, w, full_map, host_pid)
            os._exit(0)
        except BaseException as e:
            traceback.print_exc()
            try:
                from ..errors import NkError, to_wire
                reply = to_wire(e) if isinstance(e, NkError) else {"kind": "EngineError", "message": str(e)}
                os.write(w, f"E {json.dumps(reply)}".encode())
            except OSError:
                pass
            os._exit(1)
    os.close(w)

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
    from ..linux import cgroups
    cgroups.remove_lab(state_dir.name)  # empty once the lab's pid namespace is gone
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
