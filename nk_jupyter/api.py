"""The Python API: `Lab`, a handle on a lab folder and its running supervisor, and the few
functions about all of a user's labs. The only door the faces (CLI, Jupyter, grading, the
JupyterLab server extension) use.

    from nk_jupyter import Lab
    lab = Lab.from_dir("labs/ospf")          # or Lab.from_text(lab_conf, files={...})
    lab.start(progress=print)                 # StartResult, when every startup has finished
    r = lab.run("pc1", "ip -j addr")          # ExecResult: stdout, stderr, status, .json()
    for stream, text in lab.exec("pc1", "ping -c 3 10.0.0.2"): ...   # streamed chunks
    lab.topology()                            # Topology: machines, domains, addresses, routes
    lab.halt()                                # or lab.crash()

    running_labs()                            # [RunningLab] of this user
    stop("labs/ospf")                         # stop whatever runs there, even a broken lab
    wipe()                                    # everything of this user's labs, orphans too

Any process can attach to a lab another process started: Lab.attach(same folder).
Progress callbacks and Lab.events() get the events of nk_jupyter.model.events.
"""
from __future__ import annotations

import json
from .records import dataclass
from pathlib import Path
from typing import Callable, Iterator

from .engine import messages as msg
from .engine.client import ApiVersionError, EngineClient
from .engine.running import ExecStream
from .engine.messages import MachineInfo, PortInfo, StartResult, StartupReport
from .model.images import IMAGE_POLICIES
from .model.uplinks import UplinkOptions
from .engine.statedir import StateDir, all_states, live_states, state_root
from .errors import EngineError, ExecError, LabAlreadyRunningError, LabNotRunningError, UserError
from .model import Lab as LabModel
from .model.events import Event, WarningEvent
from .model.names import check_domain_name, check_machine_name
from .model.topology import Topology

ProgressCallback = Callable[[Event], None]


class _Lazy:
    """A module imported when first used: `nk vcmd` needs none of lab.conf parsing or launching."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr):
        import importlib
        return getattr(importlib.import_module(self._name), attr)


launch = _Lazy("nk_jupyter.engine.launch")
labconf = _Lazy("nk_jupyter.labconf")


@dataclass
class ExecResult:
    """The outcome of a command run in a machine."""
    machine: str
    command: str
    status: int
    stdout: str
    stderr: str
    timed_out: bool = False   # stopped after its time limit (Lab.run(timeout=))
    truncated: bool = False   # stopped after its output limit (Lab.run(limit=))

    @property
    def ok(self) -> bool:
        return self.status == 0 and not self.timed_out and not self.truncated

    def json(self):
        """stdout parsed as JSON (for `ip -j ...`, `vtysh -c '... json'`)."""
        return json.loads(self.stdout)

    def check(self) -> "ExecResult":
        """Raise ExecError unless the command succeeded; returns self."""
        if self.status != 0:
            raise ExecError(self.machine, self.command, self.status, self.stdout, self.stderr)
        return self


@dataclass(frozen=True)
class Owner:
    """Who started a lab: a process (pid) and, in Jupyter, its kernel's connection file."""
    pid: int = 0
    kernel: str = ""

    @classmethod
    def of(cls, record: dict | None) -> "Owner":
        record = record or {}
        return cls(int(record.get("pid") or 0), str(record.get("kernel") or ""))


@dataclass(frozen=True)
class RunningLab:
    """A lab of this user that a supervisor serves now."""
    directory: Path
    name: str
    owner: Owner
    started: float
    text_lab: bool      # made by Lab.from_text (a %%lab cell): its folder is nk's


def text_lab_folder(name: str) -> Path:
    """Where Lab.from_text keeps the lab NAME (a %%lab cell's lab)."""
    return state_root() / "text-labs" / name


def _is_text_lab(folder: Path) -> bool:
    return state_root() / "text-labs" in Path(folder).parents


def running_labs() -> list[RunningLab]:
    """Every lab of this user that a supervisor serves now (started by anyone: CLI, kernel, API)."""
    out = []
    for _state, conf in live_states():
        if conf.get("directory"):
            folder = Path(conf["directory"])
            out.append(RunningLab(folder, folder.name, Owner.of(conf.get("owner")), float(conf.get("started") or 0),
                                  _is_text_lab(folder)))
    return out


def halted_labs() -> list[RunningLab]:
    """Labs of this user that are not running but whose machines' files nk keeps (after lhalt):
    `Lab.from_dir(r.directory).start()` boots them again where they were."""
    out = []
    for state in all_states():
        conf = state.read_json()
        folder = conf.get("directory")
        if folder and not state.is_live() and (state.path / "nodes").is_dir() and any((state.path / "nodes").iterdir()) \
                and Path(folder).is_dir() and not _is_text_lab(Path(folder)):
            out.append(RunningLab(Path(folder), Path(folder).name, Owner.of(conf.get("owner")),
                                  float(conf.get("started") or 0), False))
    return out


def stop(folder: str | Path, halt: bool = False, timeout: float = 10.0) -> None:
    """Stop whatever lab runs in folder (halt it, or crash it) even when its lab.conf is broken
    now or another version of nk started it; a supervisor that does not answer is terminated.
    A lab of Lab.from_text is crashed and its files removed (its cell makes it again)."""
    folder = Path(folder).resolve()
    state = StateDir.for_lab(folder)
    was_live = state.is_live()
    if was_live:
        client = EngineClient(state)
        try:
            if halt and not _is_text_lab(folder):
                client.call(msg.Halt())
            else:
                client.call(msg.Crash())
        except (ApiVersionError, EngineError, LabNotRunningError):
            pass
        _wait_gone(state, timeout)
        if state.is_live():
            launch.terminate(state, timeout)
    if _is_text_lab(folder):
        launch.remove_trees([state.path, folder])
    elif was_live and not halt:
        launch.remove_trees([state.path])


def _wait_gone(state: StateDir, timeout: float) -> None:
    import time
    end = time.monotonic() + timeout
    while state.is_live() and time.monotonic() < end:
        time.sleep(0.01)


@dataclass(frozen=True)
class WipeReport:
    supervisors: int          # supervisor processes stopped
    removed: int              # entries removed from the state roots
    roots: list[Path]


def wipe() -> WipeReport:
    """Stop and remove everything of this user's labs, orphans included (nk wipe)."""
    supervisors, removed, roots = launch.wipe()
    return WipeReport(supervisors, removed, roots)


class Lab:
    """A lab folder and (once started) its supervisor."""

    def __init__(self, model: LabModel | None, overrides: list[str] | None = None, directory: Path | None = None) -> None:
        self._model = model
        self.directory: Path = model.directory if model is not None else Path(directory)
        self.overrides = list(overrides or [])
        self._state = StateDir.for_lab(self.directory)
        self._client = EngineClient(self._state)

    @property
    def model(self) -> LabModel:
        """The lab as lab.conf describes it (read when first needed by an attached lab)."""
        if self._model is None:
            try:
                self._model = labconf.load_lab(self.directory, self.overrides or (), force=True)
            except UserError:
                self._model = LabModel(name=self.directory.name, directory=self.directory)
        return self._model

    @model.setter
    def model(self, value: LabModel) -> None:
        self._model = value

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | Path, overrides: list[str] | None = None, force: bool = False) -> "Lab":
        """Read a lab folder (Netkit or Kathara dialect); raises LabConfError if malformed."""
        return cls(labconf.load_lab(path, overrides or (), force=force), overrides)

    @classmethod
    def from_text(cls, lab_conf: str, files: dict[str, str] | None = None, name: str = "lab",
                  overrides: list[str] | None = None) -> "Lab":
        """A lab from lab.conf text plus {relative path: content} (e.g. "pc1.startup").

        The files are written to a folder of this user's (text_lab_folder(NAME)), replacing an
        earlier lab of that name: if that lab is running, it is crashed first.
        """
        if not name.replace("-", "").replace("_", "").isalnum():
            raise UserError(f"lab name {name!r}: use letters, digits, - and _ only")
        folder = text_lab_folder(name)
        stop(folder)  # machines may have written into it (sub-ID owners): removed by stop()
        launch.remove_trees([folder, StateDir.for_lab(folder).path])
        folder.mkdir(parents=True)
        (folder / "lab.conf").write_text(lab_conf)
        for rel, content in (files or {}).items():
            target = (folder / rel).resolve()
            if folder.resolve() not in target.parents:
                raise UserError(f"file {rel!r} would be written outside the lab folder")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            except (NotADirectoryError, FileExistsError, IsADirectoryError):
                raise UserError(f"file {rel!r}: a part of its path is also given as a file (or it is a "
                                "folder); a lab cannot have both") from None
            except OSError as e:
                raise UserError(f"cannot write {rel!r}: {e.strerror}") from None
        return cls.from_dir(folder, overrides, force=True)

    @classmethod
    def attach(cls, path: str | Path) -> "Lab":
        """The running lab of a folder, even if its lab.conf has changed (or broken) since it started."""
        folder = Path(path).resolve()
        state = StateDir.for_lab(folder)
        if not state.is_live():
            raise LabNotRunningError(f"no lab is running in {folder} (start it with: nk lstart -d {path})")
        return cls(None, state.read_json().get("overrides") or None, directory=folder)

    @classmethod
    def started_overrides(cls, path: str | Path) -> list[str] | None:
        """The -o overrides the running lab of a folder was started with (None if not running)."""
        state = StateDir.for_lab(Path(path).resolve())
        return list(state.read_json().get("overrides") or []) if state.is_live() else None

    # -- state ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._state.is_live()

    @property
    def warnings(self) -> list[str]:
        return list(self.model.warnings)

    @property
    def owner(self) -> Owner | None:
        """Who started the lab, while it runs."""
        return Owner.of(self._state.read_json().get("owner")) if self.running else None

    @property
    def text_lab(self) -> bool:
        """Made by Lab.from_text (a %%lab cell)."""
        return _is_text_lab(self.directory)

    @property
    def has_files(self) -> bool:
        """Something of an earlier run is kept (machines' files after lhalt, logs)."""
        return self._state.path.exists()

    def startup_log(self, machine: str, lines: int | None = None) -> str:
        """The output of a machine's startups and shutdowns (its last lines); "" if none yet."""
        try:
            text = self._state.startup_log(check_machine_name(machine)).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:]) if lines else text

    # -- life cycle -----------------------------------------------------------------
    def start(self, machines: list[str] | None = None, progress: ProgressCallback | None = None, fast: bool = False,
              timeout: float = 300, parallel: int = 0, owner: Owner | None = None, images: str = "auto",
              uplinks: UplinkOptions | None = None) -> StartResult:
        """Boot the lab (or some machines); returns when every startup has finished.

        progress gets each event (nk_jupyter.model.events), e.g. MachineEvent("pc1", "running").
        images: what a machine with image= runs on: "auto", "podman" or "host" (see
        nk_jupyter.backends.IMAGE_POLICIES).
        uplinks: how bridged/tap machines reach the host's network (UplinkOptions: driver,
        host_loopback, mtu, cidr); it applies when the lab's supervisor starts.
        """
        for name in machines or []:
            self.model.machine(name)
        self._supervisor(progress, owner, images, uplinks)
        return self._client.call(msg.Start(list(machines or []), fast, float(timeout), int(parallel)), on_event=progress)

    def _supervisor(self, progress: ProgressCallback | None, owner: Owner | None, images: str,
                    uplinks: UplinkOptions | None = None) -> None:
        """Start the lab's supervisor unless it runs (or another start brings it up now)."""
        if self.running:
            return
        try:
            warnings = launch.start_supervisor(self._state, self.model, self.overrides,
                                               {"pid": owner.pid, "kernel": owner.kernel} if owner else None,
                                               images, progress, uplinks)
        except LabAlreadyRunningError:
            if not self.running:
                raise
            warnings = []  # another start brings the lab up at this moment: this one joins it
        for w in warnings + self._unsupported():
            if progress:
                progress(WarningEvent(w))

    def _unsupported(self) -> list[str]:
        out = []
        for m in self.model.machines.values():
            if m.options.unsupported:
                out.append(f"{m.name}: option(s) {', '.join(sorted(set(m.options.unsupported)))} not supported yet; ignored")
        return out

    def halt(self, machines: list[str] | None = None) -> None:
        """Stop gracefully (MACHINE.shutdown, shared.shutdown); machines keep their files."""
        self._call(msg.Halt(list(machines or [])))

    def crash(self, machines: list[str] | None = None, keep_disk: bool = False) -> None:
        """Stop at once; machines' files are discarded (unless keep_disk)."""
        if not machines and not keep_disk:
            if not self.running:
                raise LabNotRunningError(f"no lab is running in {self.directory} (start it with nk lstart -d {self.directory})")
            try:
                self._call(msg.Crash())
            except ApiVersionError:  # another nk's lab: its supervisor is stopped by signal
                launch.terminate(self._state)
            self.clean()
            return
        self._call(msg.Crash(list(machines or []), keep_disk))

    def destroy(self) -> None:
        """Crash the lab if it runs and remove everything of it; a lab made by from_text loses
        its folder too (the cell or the code that made it makes it again)."""
        stop(self.directory)

    def clean(self) -> None:
        """Remove everything of a stopped lab (its machines' files included)."""
        if self.running:
            raise UserError(f"the lab in {self.directory} is running; halt or crash it first")
        if self._state.path.exists():
            launch.remove_trees([self._state.path])
        from .linux.cgroups import remove_lab
        remove_lab(self._state.path.name)  # (a killed supervisor's cgroup folders, every run's)

    def _call(self, request):
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory} (start it with nk lstart -d {self.directory})")
        reply = self._client.call(request)
        if getattr(reply, "supervisor_exits", False):
            _wait_gone(self._state, 10.0)
        return reply

    # -- machines -------------------------------------------------------------------
    def vstart(self, name: str, interfaces: dict[int, str], exec_commands: list[str] | None = None,
               progress: ProgressCallback | None = None, owner: Owner | None = None) -> StartResult:
        """Start one more machine (starting the lab's supervisor if needed)."""
        check_machine_name(name)
        interfaces = _interfaces(interfaces, unplug=False)
        self._supervisor(progress, owner, "auto")
        return self._client.call(msg.VStart(name, {str(k): v for k, v in interfaces.items()}, list(exec_commands or [])),
                                 on_event=progress)

    def vconfig(self, machine: str, interfaces: dict[int, str | None]) -> None:
        """Hot-plug (domain) or unplug (None or "") interfaces of a running machine."""
        interfaces = _interfaces(interfaces, unplug=True)
        self._call(msg.VConfig(check_machine_name(machine), {str(k): v for k, v in interfaces.items()}))

    def exec(self, machine: str, command: str, env: dict | None = None, stdin: bytes | int | None = None) -> ExecStream:
        """Run command (by the machine's shell); iterate for (stream, text) chunks.

        stdin: bytes to feed the command, or a descriptor whose data is relayed to it.
        """
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        machine = check_machine_name(machine)
        return ExecStream(lambda fds: self._client.exec_fds(machine, command, fds, env), machine, command, stdin)

    def run(self, machine: str, command: str, env: dict | None = None, stdin: bytes | None = None,
            timeout: float | None = None, limit: int | None = None) -> ExecResult:
        """Run command and collect its output; never raises for a non-zero status.

        timeout (seconds): past it the command is sent TERM, then KILL, and the result says
        timed_out. limit (bytes of stdout + stderr): past it the command is killed and the
        result says truncated. Graders use both: a lab must not hang or flood them.
        """
        import codecs
        import time
        stream = self.exec(machine, command, env, stdin)
        data = {"stdout": [], "stderr": []}
        size, timed_out, truncated = 0, False, False
        deadline = time.monotonic() + timeout if timeout is not None else None
        for kind, chunk in stream.chunks(deadline=deadline):
            if limit is not None and size + len(chunk) > limit:
                data[kind].append(chunk[: limit - size])
                truncated = True
                stream.signal("KILL")
                size = limit
                continue
            size += len(chunk)
            data[kind].append(chunk)
        timed_out = stream.timed_out
        text = {k: codecs.decode(b"".join(v), "utf-8", "replace") for k, v in data.items()}
        status = stream.status if stream.status is not None else -1
        return ExecResult(machine, command, status, text["stdout"], text["stderr"], timed_out, truncated)

    def hub_exec(self, argv: list[str], stdin: bytes | int | None = None) -> ExecStream:
        """Run argv in the lab's hub (the supervisor's fake-root namespaces: bridges nkd*), like
        `rootlesskit bash`: that is the user's own shell, not a machine."""
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        return ExecStream(lambda fds: self._client.exec_fds(None, None, fds, argv=argv), None, " ".join(argv), stdin)

    def terminal(self, machine: str | None, argv: list[str] | None, size: tuple[int, int], env: dict | None = None):
        """Start argv on a new pty of the machine (None: the hub); returns (a RunningCommand with
        wait/signal/fileno, the pty's master fd). The pty is the machine's own (its devpts).
        argv None: the machine's login shell (its shell= option, else bash, else sh)."""
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        if machine is None and not argv:
            raise UserError("the hub has no login shell: give argv")
        return self._client.exec_pty(check_machine_name(machine) if machine is not None else None, argv, size, env)

    def info(self, memory: bool = False) -> list[MachineInfo]:
        return self._call(msg.Info(memory)).machines

    # -- ports, shaping, capture -------------------------------------------------------
    def ports(self) -> list[PortInfo]:
        """The published ports: [PortInfo(machine, "127.0.0.1:8080:80/tcp")]."""
        return self._call(msg.PortList()).ports

    def publish(self, machine: str, spec: str) -> list[PortInfo]:
        """Publish "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp]" to a running machine (like rootlessctl
        add-ports); a port in use or not allowed is a UserError naming it."""
        return self._call(msg.PortAdd(check_machine_name(machine), spec)).ports

    def unpublish(self, spec: str) -> list[PortInfo]:
        return self._call(msg.PortRemove(spec)).ports

    def shape(self, shape: str, machine: str | None = None, interface: int | None = None,
              domain: str | None = None) -> list[str]:
        """Shape a machine's ethN, or every interface on a domain: "rate=10mbit loss=1%"
        ("" removes it; model/shaping.py). Returns what was shaped ("pc1 eth0")."""
        if bool(machine) == bool(domain):
            raise UserError("shape: give a machine and its interface, or a collision domain")
        return self._call(msg.ShapeSet(shape, machine or "", interface, domain or "")).shaped

    def shape_words(self, target: str, words: list[str]) -> tuple[str, list[str]]:
        """The CLI's and the magic's form: `pc1 eth0 rate=10mbit`, `A loss=1%`, `A none`.
        Returns (the shaping set, what was shaped)."""
        words = list(words)
        interface = int(words.pop(0)[3:]) if words and words[0][:3] == "eth" and words[0][3:].isdigit() else None
        shape = " ".join(w for w in words if w != "none")
        if interface is None:
            return shape, self.shape(shape, domain=target)
        return shape, self.shape(shape, machine=target, interface=interface)

    def capture(self, domain: str, count: int = 0, snaplen: int = 262144) -> ExecStream:
        """Capture a collision domain's frames in the hub, out of the machines' reach: a stream
        whose stdout is pcap (nk_jupyter.pcap decodes it); signal("INT") stops it."""
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        request = msg.Capture(domain, int(count), int(snaplen))
        return ExecStream(lambda fds: self._client.start_fds(request, fds), None, f"capture {domain}")

    def topology(self) -> Topology:
        """Machines (state, interfaces, addresses, routes) and domains; from lab.conf when stopped."""
        if self.running:
            return self._call(msg.GetTopology()).topology
        return Topology.from_lab(self.model)

    def events(self) -> Iterator[Event]:
        return self._client.events()


def start_summary(result: StartResult) -> list[str]:
    """One line naming the startups that failed (with their first error), one naming the
    programs the host lacks: what a teacher needs to see after a boot."""
    failed = [f"{n} (status {s.status}{': ' + s.error if s.error else ''})"
              for n, s in result.startups.items() if s.status and n not in result.failed]
    out = [f"startup failed on {', '.join(failed)}"] if failed else []
    lacking: dict[tuple[str, str], list[str]] = {}
    for n, s in result.startups.items():
        for program, package in s.missing.items():
            lacking.setdefault((program, package), []).append(n)
    if lacking:
        out.append("this host lacks " + "; ".join(f"{p} (Debian package {pkg}, used by "
                                                  f"{', '.join(ms)})" for (p, pkg), ms in lacking.items()))
    return out


def _interfaces(interfaces: dict, unplug: bool) -> dict[int, str | None]:
    """{number: domain} checked: numbers 0-1023, domain names by the lab.conf rule; with unplug,
    None or "" unplugs (and so does the word "none", as Netkit's vconfig --eth1=none)."""
    out: dict[int, str | None] = {}
    for num, domain in interfaces.items():
        if not isinstance(num, int) or not 0 <= num <= 1023:
            raise UserError(f"interface number {num!r}: use 0 to 1023")
        if domain in (None, "", "none") and unplug:
            out[num] = None
        elif domain in (None, ""):
            raise UserError(f"eth{num} needs a collision domain")
        else:
            out[num] = check_domain_name(domain)
    return out


__all__ = ["halted_labs", "IMAGE_POLICIES", "UplinkOptions", "PortInfo", "Lab", "ExecResult", "ExecStream", "StartResult", "StartupReport", "MachineInfo", "Topology", "Owner",
           "RunningLab", "WipeReport", "running_labs", "stop", "wipe", "text_lab_folder", "start_summary"]
