"""The namespace backend inside one supervisor: what every machine of the lab shares (the
sandbox), the zygote that starts machine inits (an nk-spawn of their own), and the create
pipeline.

Create pipeline, per machine (the zygote works on the second core meanwhile):
    layout, plan -> zygote clones the init -> init: namespaces exist ("ns")
           -> the engine plugs its links (plug callback) -> orders -> init: root built,
              machine root ("rooted", with its /dev/pts), links up, files copied ("ready")
At most WINDOW requests are in flight to the zygote (more would fill its socket both ways).
"""
from __future__ import annotations

import errno
import os
import resource
import socket
import time
from ...records import dataclass
from pathlib import Path

from ... import wire
from ...errors import HostSetupError
from ...linux import cgroups, netlink, ns, paths
from .. import Context, Handle, MachinePlan, Plug, Profile, Ready
from . import messages as m
from .node import Node
from .initplan import host_top_level, order_words
from .messages import NodeLayout
from .runtime_files import SHIMS
from .userns import machines_userns

INIT_TIMEOUT = 60.0  # a machine's init answers each stage within this (it runs only our code)
DEFAULT_PIDS = 1024  # processes and threads per machine unless lab.conf says pids=N
WINDOW = 16
READY_LAG = 8  # machines plugged but not yet awaited: by then their inits have finished
ENV_PATH = "/run/nk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_SHELLS = ("/bin/bash", "/bin/sh", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash")
HOST_PROFILE = Profile(env={"PATH": ENV_PATH, "BASH_ENV": "/run/nk/share/bashenv"},  # names a missing
                       shells=HOST_SHELLS)                                           # program's package


@dataclass
class Sandbox:
    """What the supervisor makes once for all of a lab's machines."""
    labfd: int              # the lab folder, O_PATH (bound on /hostlab by descriptor)
    usernsfd: int           # the machines' user namespace U2
    mapped: int             # user IDs mapped in the lab (1: a single-ID map)
    scratch: Path           # the lab's capped tmpfs: machine roots, /tmp, /run, /dev/shm
    disks_on_scratch: bool  # overlay upper dirs there too (tmpfs with user xattrs, Linux 6.6+)
    lab_pids: int           # the lab's process budget
    cgroups: cgroups.LabCgroups | None = None


def make_sandbox(state, conf: dict, run: str) -> Sandbox:
    labfd = paths.open_dir(conf["directory"])
    mapped = ns.mapped_ids()
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
            lab_cgroups = cgroups.LabCgroups(delegation, state.path.name, run, lab_pids)
            lab_cgroups.join_supervisor()
        except OSError as e:
            where = " and ".join(str(p) for p in (delegation.v2, delegation.v1_memory) if p)
            raise HostSetupError(f"cannot use the delegated cgroup {where}: {e.strerror} (nk must run in a cgroup "
                                 "below it, e.g. its runner/ folder; see docs/security.md)") from None
    return Sandbox(labfd=labfd, usernsfd=usernsfd, mapped=mapped, scratch=scratch,
                   disks_on_scratch=disks_on_scratch, lab_pids=lab_pids, cgroups=lab_cgroups)


@dataclass
class ImageRoot:
    """A machine whose / is a container image's files (backends/podman), not the host's."""
    lower: str                   # the image's tree, attached in the lab's mount namespace
    env: dict[str, str]          # the image's environment (PATH ...)
    key: str                     # the image's id: a machine's kept files go with one image


class NamespaceSession:
    name = "namespaces"

    def __init__(self, context: Context) -> None:
        from .zygote import Zygote
        self.state, self.conf = context.state, context.lab
        self.emit = context.emit
        self.sandbox = make_sandbox(self.state, self.conf, context.run)
        self.zygote = Zygote()  # (its nk-spawn starts at the first machine, under the seccomp filter)
        self.template = context.conf["template"]
        self.restore_template()
        self.host_top = host_top_level()
        self.timing: dict[str, float] = {}
        self._warned: set[str] = set()

    def restore_template(self) -> None:
        """Once per template: its files get their owners back (needs the lab's user namespace)."""
        from . import template
        tpl = Path(self.template)
        if not (tpl / ".owned").exists():
            template.restore_owners(tpl, self.sandbox.mapped > 1)
            (tpl / ".owned").touch()

    # -- creating -----------------------------------------------------------------------
    def create(self, plans: list[MachinePlan], plug: Plug, ready: Ready | None = None,
               roots: dict[str, ImageRoot] | None = None) -> list[tuple[MachinePlan, Handle | str]]:
        """Make the machines, pipelined; ready(plan, handle) is called for each as soon as it is
        ready (its startup may begin while the others are still being made)."""
        roots = roots or {}
        t0 = time.perf_counter()
        out: list[tuple[MachinePlan, Handle | str]] = []
        asked: list[tuple[MachinePlan, tuple[str, ...]]] = []
        pending: list[tuple[MachinePlan, Node, socket.socket]] = []
        stats: dict[str, float] = {}
        waited = [0.0]

        def take(item) -> None:
            result = self._take(item[0], item[1], plug, roots.get(item[0].machine.name), pending)
            if result:
                out.append((item[0], result))

        def finish(plan: MachinePlan, node: Node, sock: socket.socket) -> None:
            t = time.perf_counter()
            problem = self._await_ready(node, sock, plan, stats)
            waited[0] += time.perf_counter() - t
            if problem:
                node.kill()
                out.append((plan, f"cannot create the machine: {problem}"))
                return
            out.append((plan, node))
            if ready is not None:
                ready(plan, node)
        try:
            for plan in plans:
                try:
                    lay, groups = self._layout(plan, roots.get(plan.machine.name))
                    self.zygote.request(lay)
                except OSError as e:  # (its init is not asked for: the pipeline stays in step)
                    out.append((plan, f"cannot prepare the machine: {e.strerror or e}"))
                    continue
                asked.append((plan, groups))
                if len(asked) > WINDOW:
                    take(asked[len(asked) - WINDOW - 1])
                while len(pending) > READY_LAG:  # the oldest machines are done by now: let them boot
                    finish(*pending.pop(0))
            for item in asked[max(0, len(asked) - WINDOW):]:
                take(item)
            t1 = time.perf_counter()
            while pending:
                finish(*pending.pop(0))
        except BaseException:  # (a bug, ^C): no init is left behind, nor an answer for the next create
            self.zygote.drain()
            for _plan, node, sock in pending:
                node.kill()
                sock.close()
            raise
        self.timing = {"create_and_plug": t1 - t0 - waited[0], "nodes_ready": waited[0],
                       "sum_of_node_root_builds": stats.get("root_s", 0.0), "sum_of_node_inits": stats.get("all_s", 0.0),
                       "cpu_of_node_root_builds": stats.get("root_cpu_s", 0.0)}
        return out

    def _take(self, plan: MachinePlan, groups: tuple[str, ...], plug: Plug, image: ImageRoot | None,
              pending: list) -> str | None:
        """The zygote's answer for plan; once its init is in its netns, plug its links (the init
        builds its root meanwhile). Returns why it failed, or None (it is pending)."""
        from . import NodeStartError
        try:
            pid, pidfd, sock = self.zygote.answer()
        except NodeStartError as e:
            return f"cannot create the machine: {e}"
        profile = Profile(env=dict(image.env), shells=()) if image else HOST_PROFILE
        node = Node(plan.machine.name, pid, pidfd, profile, groups)
        sock.settimeout(INIT_TIMEOUT)
        try:
            fds: list[int] = []
            report = self._report(sock, m.Stage, fds)
            if fds:
                node.netns_fd = fds.pop(0)
            try:
                if report.error or node.netns_fd is None or len(fds) != len(report.sysctls):
                    raise OSError(report.error or "the machine's init sent no network namespace")
                for (key, value), fd in zip(report.sysctls, fds):  # (initplan.TAKE_RTNL has the why)
                    try:
                        os.write(fd, value.encode())
                    except OSError as e:
                        raise OSError(f"sysctl {key}={value}: {e.strerror}") from None
            finally:
                for fd in fds:
                    os.close(fd)
            plug(plan, node)
            try:
                frame = order_words(self._orders(plan, image))
            except ValueError as e:
                raise OSError(errno.EINVAL, str(e)) from None
            sock.sendall(frame)
        except Exception as e:  # pyroute2's NetlinkError is no OSError
            if not isinstance(e, (OSError, wire.ProtocolError, netlink.NetlinkError)):
                raise
            why = self._report(sock, m.Stage).error if not node.alive() else None
            sock.close()
            node.kill()
            return f"cannot wire the machine: {why or e}"
        pending.append((plan, node, sock))
        return None

    def _orders(self, plan: MachinePlan, image: ImageRoot | None) -> m.Orders:
        mach = plan.machine
        copy = []
        if plan.first_boot:
            for folder in ("shared", mach.name):  # only glanced at: the init decides from what it sees
                if os.path.isdir(Path(self.conf["directory"]) / folder):
                    copy.append(f"/hostlab/{folder}")
        sh = "" if image else plan.sh
        return m.Orders(up=["lo"] + [f"eth{n}" for n in sorted(mach.interfaces)], sysctls=plan.sysctls,
                        first_boot=plan.first_boot, sh=sh, copy=copy, nameserver=plan.nameserver)

    @staticmethod
    def _report(sock: socket.socket, kind, fds: list[int] | None = None, eof_ok: bool = False):
        try:
            msg, got = wire.recv(sock)
        except EOFError:
            return kind() if eof_ok else kind(error="the machine's init died before reporting")
        except socket.timeout:
            return kind(error=f"the machine's init did not answer within {INIT_TIMEOUT:g} s")
        if fds is None:
            for fd in got:
                os.close(fd)
        else:
            fds.extend(got)
        try:
            return wire.decode(kind, msg, "init report")
        except wire.ProtocolError as e:
            return kind(error=str(e))

    def _await_ready(self, node: Node, sock: socket.socket, plan: MachinePlan, stats: dict) -> str | None:
        try:
            for stage in ("rooted", "ready"):
                fds: list[int] = []
                report = self._report(sock, m.Stage, fds)
                if stage == "rooted" and fds and not report.error:
                    node.pts_fd = fds.pop(0)
                for fd in fds:
                    os.close(fd)
                if report.error:
                    return report.error
                for key in ("root_s", "root_cpu_s", "all_s"):
                    stats[key] = stats.get(key, 0.0) + getattr(report, key)
                for text in report.warnings:
                    self.emit(_warning(plan.machine.name, text))
            end = self._report(sock, m.Stage, eof_ok=True)  # EOF: it has exec'd nk-reap (its socket is close-on-exec)
            if end.error:  # (or why it could not: the machine ends with it)
                return end.error
        except (OSError, wire.ProtocolError) as e:
            return str(e)
        finally:
            sock.close()
        return None

    def _layout(self, plan: MachinePlan, image: ImageRoot | None) -> tuple[NodeLayout, tuple[str, ...]]:
        """Prepare a machine's folders on the scratch space and describe it for its init."""
        name, sb = plan.machine.name, self.sandbox
        where = sb.scratch / name
        if where.exists():
            paths.remove_tree(where)
        (where / "fresh").mkdir(parents=True)
        kept = self.state.node_dir(name)
        if image and kept.is_dir() and (kept / ".image").is_file() and (kept / ".image").read_text() != image.key:
            paths.remove_tree(kept)  # files kept over another image would not fit it
            self.emit(_warning(name, "its image changed since it was halted: it starts afresh"))
        disk = kept
        if sb.disks_on_scratch:
            disk = where / "disk"
            if kept.is_dir():
                _copy_tree(kept, disk)
            else:
                disk.mkdir()
        if image:
            disk.mkdir(parents=True, exist_ok=True)
            (disk / ".image").write_text(image.key)
        opts = plan.machine.options
        nproc = min(opts.pids or DEFAULT_PIDS, sb.lab_pids)  # never above the lab's
        if sb.mapped <= 1:  # one ID: every machine's user namespace has the same owner, so the
            nproc = sb.lab_pids  # per-machine budget is the lab's
        groups: tuple[str, ...] = ()
        if sb.cgroups:
            groups = tuple(sb.cgroups.machine(name, opts.mem, opts.cpus, nproc))
        for option, controller in (("mem", "memory"), ("cpus", "cpu")):
            if getattr(opts, option) and not (sb.cgroups and sb.cgroups.d.can(controller)) \
                    and option not in self._warned:
                self._warned.add(option)
                self.emit(_warning("", f"{option} is not enforced: no delegated cgroup with the {controller} "
                                       "controller (set NK_CGROUP, see docs/security.md)"))
        lay = NodeLayout(
            name=name, root=str(disk / "rootfs"), scratch=str(where / "fresh"), disk=str(disk),
            template=self.template, labdir=self.conf["directory"], shims=str(SHIMS), host_top=self.host_top,
            labfd=sb.labfd, usernsfd=sb.usernsfd, owner_uid=1 + plan.index % (sb.mapped - 1) if sb.mapped > 1 else 0,
            nproc=nproc, cgroup=":".join(groups), sysctls=tuple(plan.default_sysctls),
            image=image.lower if image else "")
        return lay, groups

    # -- stopping -----------------------------------------------------------------------
    def stopped(self, name: str, keep: bool) -> list[str]:
        """After a halt (keep): keep the machine's files for its next boot (Netkit's .disk).
        A copy that cannot be made (the state dir is full, a tree too deep for cp) is said, and
        the machine's files are dropped: the lab goes on. After a crash: drop them."""
        warnings = []
        kept = self.state.node_dir(name)
        if not keep:
            paths.remove_tree(kept)
        elif self.sandbox.disks_on_scratch:
            disk = self.sandbox.scratch / name / "disk"
            marker = (kept / ".configured").exists()
            if disk.is_dir():
                if kept.exists():
                    paths.remove_tree(kept)
                try:
                    _copy_tree(disk, kept)
                    if marker:
                        (kept / ".configured").touch()
                except OSError as e:
                    paths.remove_tree(kept)
                    warnings.append(f"its files could not be kept for the next start: {e}")
        paths.remove_tree(self.sandbox.scratch / name)
        if self.sandbox.cgroups:
            self.sandbox.cgroups.forget(name)
        return warnings

    def close(self) -> None:
        self.zygote.close()


def _warning(machine: str, text: str):
    from ...model.events import WarningEvent
    return WarningEvent(str(text), machine)


def _copy_tree(src: Path, dst: Path) -> None:
    """cp -a: a machine's disk as it is (sub-ID owners, overlay xattrs and whiteouts, symlinks
    as symlinks); sizes are bounded by the scratch space it came from or goes to. OSError
    (with cp's first complaint) if it fails."""
    import subprocess  # (here: only disks that move use it, and every lab start imports this)
    r = subprocess.run(["cp", "-a", "--no-target-directory", str(src), str(dst)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode:
        lines = r.stderr.strip().splitlines()
        raise OSError(lines[0] if lines else f"cp exited with status {r.returncode}")
