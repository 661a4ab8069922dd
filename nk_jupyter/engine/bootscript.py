"""The shell text a node runs at boot and at halt (Netkit's phase 2, Kathara's order).

Boot:  shared.startup, MACHINE.startup, then the `exec` lines, in /root (the first-boot
       files, Netkit's phase 1, are written by the node's init: backends/nodeinit.py).
Halt:  MACHINE.shutdown, then shared.shutdown.
Scripts are read from /hostlab at run time and need no exec bit.
"""
from __future__ import annotations

import os
import shlex

from ..model import Machine

ENV_PATH = "/run/nk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def shell_of(machine: Machine) -> str:
    return machine.options.shell or "/bin/bash"


def boot(machine: Machine) -> str:
    """shared.startup, MACHINE.startup, then the exec lines (first-boot files: nodeinit.py)."""
    name, sh = machine.name, shlex.quote(shell_of(machine))
    lines = []
    for script in ("/hostlab/shared.startup", f"/hostlab/{name}.startup"):
        lines.append(f"if [ -f {script} ]; then {sh} {script}; s=$?; fi")
    for cmd in machine.options.exec_commands:
        lines.append(f"cd /root; {cmd}")
    lines.append("exit ${s:-0}")
    return "s=0\ncd /root\n" + "\n".join(lines) + "\n"


def boot_argv(machine: Machine, shell: str, labdir) -> list[str]:
    """How to run the boot: straight `SHELL /hostlab/M.startup` when that is all there is."""
    if not machine.options.exec_commands and not (labdir / "shared.startup").is_file():
        if not (labdir / f"{machine.name}.startup").is_file():
            return ["/bin/true"]
        return [shell, f"/hostlab/{machine.name}.startup"]
    return [shell, "-c", boot(machine)]


def halt(machine: Machine) -> str:
    sh = shlex.quote(shell_of(machine))
    out = ["cd /root"]
    for script in (f"/hostlab/{machine.name}.shutdown", "/hostlab/shared.shutdown"):
        out.append(f"[ -f {script} ] && {sh} {script}")
    out.append("exit 0")
    return "\n".join(out) + "\n"


# Words that only the shell understands: a command starting with one goes to the shell.
SHELL_WORDS = {"cd", "exit", "export", "set", "unset", "source", ".", "alias", "ulimit", "umask", "exec", "eval",
               "if", "for", "while", "until", "case", "function", "declare", "local", "read", "trap", "wait",
               "shopt", "type", "hash", "jobs", "fg", "bg", "history", "let", "readonly", "return", "shift",
               "time", "[[", "!", "{", "ulimit", "builtin", "command", "compgen", "complete", "pushd", "popd", "dirs"}
SHELL_CHARS = set("|&;<>()$`\\\"'*?[#~=%{}!\n")


def command_argv(machine: Machine, command: str) -> list[str]:
    """argv for a command line: run directly when it is plain words, else by the machine's shell.

    Plain words (`ip a`, `ping -c 3 10.0.0.1`) mean exactly the same either way; skipping
    the shell saves its start-up time on every call.
    """
    words = command.split()
    if words and not (set(command) & SHELL_CHARS) and words[0] not in SHELL_WORDS:
        return words
    shell = shell_of(machine)
    return [shell if os.path.exists(shell) else "/bin/sh", "-c", command]


def environment(machine: Machine, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": ENV_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
        "HOSTNAME": machine.name, "SHELL": shell_of(machine), "LANG": "C.UTF-8", "TERM": "xterm",
    }
    env.update(machine.options.env)
    env.update(extra or {})
    return env
