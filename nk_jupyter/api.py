"""The Python API: one class, `Lab`, a handle on a lab folder and its running supervisor.

    from nk_jupyter import Lab
    lab = Lab.from_dir("labs/ospf")          # or Lab.from_text(lab_conf, files={...})
    lab.start(progress=print)                 # returns when every startup has finished
    r = lab.run("pc1", "ip -j addr")          # ExecResult: stdout, stderr, status, .json()
    for stream, text in lab.exec("pc1", "ping -c 3 10.0.0.2"): ...   # streamed chunks
    lab.topology()                            # machines, domains, interfaces, addresses
    lab.halt()                                # or lab.crash()

Any process can attach to a lab another process started: Lab.from_dir(same folder).
"""
from __future__ import annotations

import json
import os
import selectors
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from . import labconf
from .engine import launch
from .engine.client import EngineClient, RunningCommand
from .engine.statedir import StateDir, state_root
from .errors import ExecError, LabAlreadyRunningError, LabNotRunningError, UserError
from .model import Lab as LabModel
from .model.names import check_domain_name, check_machine_name

Progress = Callable[[dict], None]


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


class ExecStream:
    """A command running in a machine: its output as it comes, then its exit status.

    Iterate for (stream, text) chunks, stream being "stdout" or "stderr" (`chunks()` gives the
    raw bytes). The command gets pipes, never a descriptor of ours: stdin is empty unless
    `stdin` is bytes to send or a descriptor whose data is relayed. Output ends when the
    command exits (what it wrote before is all delivered; daemons it left behind do not keep
    the stream open). `signal("INT")` interrupts it; leaving the iteration early hangs it up.
    """

    DRAIN_LIMIT = 1 << 20  # read at most this much buffered output once the command has exited
    GRACE = 2.0            # seconds between TERM and KILL after a deadline

    def __init__(self, client: EngineClient, machine: str, command: str | None, env: dict | None = None,
                 stdin: bytes | int | None = None, argv: list[str] | None = None) -> None:
        self.machine, self.command = machine, command if command is not None else " ".join(argv or [])
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.running: RunningCommand = client.exec_fds(machine, command, (in_r, out_w, err_w), env, argv=argv)
        except BaseException:
            for fd in (out_r, err_r, in_w):
                os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)
        self._fds = {out_r: "stdout", err_r: "stderr"}
        self._in_w: int | None = in_w
        self._pending = stdin if isinstance(stdin, bytes) else b""
        self._input = stdin if isinstance(stdin, int) else None
        if stdin is None:
            self._close_stdin()
        else:
            os.set_blocking(in_w, False)
        self.status: int | None = None
        self.timed_out = False

    def _close_stdin(self) -> None:
        if self._in_w is not None:
            os.close(self._in_w)
            self._in_w = None

    def chunks(self, deadline: float | None = None) -> Iterator[tuple[str, bytes]]:
        """(stream, bytes) as the command writes them. Past deadline (time.monotonic()) the
        command gets TERM, and KILL GRACE seconds later; self.timed_out says so."""
        import time
        sent: list[str] = []
        sel = selectors.DefaultSelector()
        for fd, name in self._fds.items():
            sel.register(fd, selectors.EVENT_READ, name)
        sel.register(self.running.fileno(), selectors.EVENT_READ, "status")
        plain_file = False  # a file (or /dev/null) is always readable, and epoll refuses it
        if self._input is not None:
            try:
                sel.register(self._input, selectors.EVENT_READ, "input")
            except PermissionError:
                plain_file = True
        if self._pending and self._in_w is not None:
            sel.register(self._in_w, selectors.EVENT_WRITE, "stdin")
        try:
            while True:
                wait = None
                if deadline is not None:
                    now = time.monotonic()
                    if now >= deadline:
                        escalation = ["TERM", "KILL"][len(sent):]
                        if not escalation:  # killed and still no status: the supervisor is gone
                            self.close()
                            return
                        self.timed_out = True
                        sent.append(escalation[0])
                        self.signal(escalation[0])
                        deadline = now + self.GRACE
                    wait = max(0.0, deadline - now)
                if plain_file and self._input is not None and not self._pending and self._in_w is not None:
                    data = os.read(self._input, 65536)
                    if data:
                        self._pending = data
                        sel.register(self._in_w, selectors.EVENT_WRITE, "stdin")
                    else:
                        self._input = None
                        self._close_stdin()
                for key, _ in sel.select(wait):
                    what = key.data
                    if what in ("stdout", "stderr"):
                        data = os.read(key.fd, 65536)
                        if data:
                            yield what, data
                        else:
                            sel.unregister(key.fd)
                    elif what == "status":
                        self.status = self.running.wait()
                        yield from self._drain()
                        return
                    elif what == "input":
                        data = os.read(key.fd, 65536)
                        sel.unregister(key.fd)
                        if not data:
                            self._input = None
                            if not self._pending:
                                self._close_stdin()
                        elif self._in_w is not None:
                            self._pending += data
                            sel.register(self._in_w, selectors.EVENT_WRITE, "stdin")
                    elif what == "stdin":
                        try:
                            self._pending = self._pending[os.write(key.fd, self._pending):]
                        except BrokenPipeError:  # the command closed its stdin
                            self._pending, self._input = b"", None
                        if not self._pending:
                            sel.unregister(key.fd)
                            if self._input is not None and not plain_file:
                                sel.register(self._input, selectors.EVENT_READ, "input")
                            elif self._input is None:
                                self._close_stdin()
        except GeneratorExit:
            self.close()  # the caller stopped reading: hang the command up
            raise
        finally:
            sel.close()
            self._close_stdin()
            for fd in self._fds:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _drain(self) -> Iterator[tuple[str, bytes]]:
        """What the command wrote before it exited, without waiting for the pipes to close."""
        left = self.DRAIN_LIMIT
        for fd, name in self._fds.items():
            os.set_blocking(fd, False)
            while left > 0:
                try:
                    data = os.read(fd, min(65536, left))
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                left -= len(data)
                yield name, data

    def __iter__(self) -> Iterator[tuple[str, str]]:
        import codecs
        decoders = {name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in self._fds.values()}
        for name, data in self.chunks():
            text = decoders[name].decode(data)
            if text:
                yield name, text

    def signal(self, name: str = "INT") -> None:
        """Signal the command's process group (INT, TERM, HUP or KILL) while it runs."""
        self.running.signal(name)

    def wait(self) -> int:
        """Wait for the command to end (after an interrupted iteration); returns its status."""
        if self.status is None:
            self.status = self.running.wait()
        return self.status

    def close(self) -> None:
        """Forget the command; if it still runs it gets SIGHUP."""
        if self.status is None:
            self.running.close()


class Lab:
    """A lab folder and (once started) its supervisor."""

    def __init__(self, model: LabModel, overrides: list[str] | None = None) -> None:
        self.model = model
        self.directory: Path = model.directory
        self.overrides = list(overrides or [])
        self.state = StateDir.for_lab(self.directory)
        self.client = EngineClient(self.state)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | Path, overrides: list[str] | None = None, force: bool = False) -> "Lab":
        """Read a lab folder (Netkit or Kathara dialect); raises LabConfError if malformed."""
        return cls(labconf.load_lab(path, overrides or (), force=force), overrides)

    @classmethod
    def from_text(cls, lab_conf: str, files: dict[str, str] | None = None, name: str = "lab",
                  overrides: list[str] | None = None) -> "Lab":
        """A lab from lab.conf text plus {relative path: content} (e.g. "pc1.startup").

        The files are written to a folder of this user's (text-labs/NAME under the state
        root), replacing an earlier lab of that name: if that lab is running, it is
        crashed first.
        """
        if not name.replace("-", "").replace("_", "").isalnum():
            raise UserError(f"lab name {name!r}: use letters, digits, - and _ only")
        folder = state_root() / "text-labs" / name
        old = StateDir.for_lab(folder)
        if old.is_live():
            EngineClient(old).call("crash")
            while old.is_live():
                import time
                time.sleep(0.01)
        launch.remove_trees([old.path, folder])  # machines may have written into it (sub-ID owners)
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
        try:
            return cls.from_dir(folder, state.read_json().get("overrides") or None, force=True)
        except UserError:
            return cls(LabModel(name=folder.name, directory=folder))

    # -- state ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state.is_live()

    @property
    def warnings(self) -> list[str]:
        return list(self.model.warnings)

    # -- life cycle -----------------------------------------------------------------
    def start(self, machines: list[str] | None = None, progress: Progress | None = None, fast: bool = False,
              timeout: float = 300, parallel: int = 0, owner: dict | None = None) -> dict:
        """Boot the lab (or some machines); returns when every startup has finished.

        progress gets each event, e.g. {"event": "machine", "machine": "pc1", "state": "running"}.
        Returns {"machines": [...], "failed": [...], "details": {...}}.
        """
        for name in machines or []:
            self.model.machine(name)
        if not self.running:
            try:
                warnings = launch.start_supervisor(self.state, self.directory, self.overrides, owner)
            except LabAlreadyRunningError:
                if not self.running:
                    raise
                warnings = []  # another start brings the lab up at this moment: this one joins it
            for w in warnings + self._unsupported():
                if progress:
                    progress({"event": "warning", "message": w})
        return self.client.call("start", on_event=progress, machines=machines, fast=fast, timeout=timeout,
                                parallel=parallel)

    def _unsupported(self) -> list[str]:
        out = []
        for m in self.model.machines.values():
            if m.options.unsupported:
                out.append(f"{m.name}: option(s) {', '.join(sorted(set(m.options.unsupported)))} not supported yet; ignored")
        return out

    def halt(self, machines: list[str] | None = None) -> None:
        """Stop gracefully (MACHINE.shutdown, shared.shutdown); machines keep their files."""
        self._call("halt", machines=machines)

    def crash(self, machines: list[str] | None = None, keep_disk: bool = False) -> None:
        """Stop at once; machines' files are discarded (unless keep_disk)."""
        self._call("crash", machines=machines, keep_disk=keep_disk)
        if not machines:
            self.clean()

    def destroy(self) -> None:
        """Crash the lab if it runs and remove everything of it; a lab made by from_text loses
        its folder too (the cell or the code that made it makes it again)."""
        if self.running:
            self.crash()
        else:
            self.clean()
        if state_root() / "text-labs" in self.directory.parents:
            launch.remove_trees([self.directory])

    def clean(self) -> None:
        """Remove everything of a stopped lab (its machines' files included)."""
        if self.running:
            raise UserError(f"the lab in {self.directory} is running; halt or crash it first")
        if self.state.path.exists():
            launch.remove_trees([self.state.path])

    def _call(self, op: str, **args) -> dict:
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory} (start it with nk lstart -d {self.directory})")
        reply = self.client.call(op, **args)
        if reply.get("supervisor_exits"):
            self._wait_stopped()
        return reply

    def _wait_stopped(self, timeout: float = 10.0) -> None:
        import time
        end = time.monotonic() + timeout
        while self.running and time.monotonic() < end:
            time.sleep(0.01)

    # -- machines -------------------------------------------------------------------
    def vstart(self, name: str, interfaces: dict[int, str], exec_commands: list[str] | None = None,
               progress: Progress | None = None, owner: dict | None = None) -> dict:
        """Start one more machine (starting the lab's supervisor if needed)."""
        check_machine_name(name)
        interfaces = _interfaces(interfaces, unplug=False)
        if not self.running:
            for w in launch.start_supervisor(self.state, self.directory, self.overrides, owner):
                if progress:
                    progress({"event": "warning", "message": w})
        return self.client.call("vstart", on_event=progress, name=name, interfaces={str(k): v for k, v in interfaces.items()},
                                exec=exec_commands or [])

    def vconfig(self, machine: str, interfaces: dict[int, str | None]) -> None:
        """Hot-plug (domain) or unplug (None or "") interfaces of a running machine."""
        interfaces = _interfaces(interfaces, unplug=True)
        self._call("vconfig", machine=check_machine_name(machine), interfaces={str(k): v for k, v in interfaces.items()})

    def exec(self, machine: str, command: str, env: dict | None = None, stdin: bytes | int | None = None) -> ExecStream:
        """Run command (by the machine's shell); iterate for (stream, text) chunks.

        stdin: bytes to feed the command, or a descriptor whose data is relayed to it.
        """
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        return ExecStream(self.client, check_machine_name(machine), command, env, stdin)

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
        return ExecStream(self.client, None, None, None, stdin, argv=argv)

    def terminal(self, machine: str | None, argv: list[str], size: tuple[int, int], env: dict | None = None):
        """Start argv on a new pty of the machine (None: the hub); returns (a RunningCommand with
        wait/signal/fileno, the pty's master fd). The pty is the machine's own (its devpts)."""
        if not self.running:
            raise LabNotRunningError(f"no lab is running in {self.directory}")
        return self.client.exec_pty(check_machine_name(machine) if machine is not None else None, argv, size, env)

    def info(self, memory: bool = False) -> list[dict]:
        return self._call("info", memory=memory)["machines"]

    def topology(self) -> dict:
        """Machines (state, interfaces, addresses, routes) and domains; from lab.conf when stopped."""
        if self.running:
            topo = self._call("topology")
            topo.pop("ok", None)
            return topo
        return static_topology(self.model)

    def events(self):
        return self.client.events()


def start_summary(result: dict) -> list[str]:
    """One line naming the startups that failed (with their first error), one naming the
    programs the host lacks: what a teacher needs to see after a boot."""
    startups = result.get("startups") or {}
    failed = [f"{n} (status {s['status']}{': ' + s['error'] if s.get('error') else ''})"
              for n, s in startups.items() if s.get("status") and n not in result.get("failed", [])]
    out = [f"startup failed on {', '.join(failed)}"] if failed else []
    lacking: dict[tuple[str, str], list[str]] = {}
    for n, s in startups.items():
        for program, package in (s.get("missing") or {}).items():
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


def static_topology(model: LabModel) -> dict:
    from .model.macs import netkit_mac
    machines, domains = [], {}
    for m in model.machines.values():
        ifaces = [{"name": i.name, "domain": i.link, "mac": i.mac or netkit_mac(m.name, i.name), "addresses": []}
                  for _, i in sorted(m.interfaces.items())]
        for i in ifaces:
            domains.setdefault(i["domain"], []).append(f"{m.name}:{i['name']}")
        machines.append({"name": m.name, "state": "defined", "detail": "", "interfaces": ifaces, "routes": [],
                         "router": len(ifaces) > 1})
    return {"lab": model.name, "machines": machines,
            "domains": [{"name": d, "members": sorted(v)} for d, v in sorted(domains.items())]}


__all__ = ["Lab", "ExecResult", "ExecStream", "start_summary"]
