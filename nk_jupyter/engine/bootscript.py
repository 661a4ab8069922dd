"""The shell text a machine runs at boot and at halt (Netkit's phases, Kathara's order).

Boot:  shared.startup, MACHINE.startup and the `exec` lines, in /root (on first boot, the
       machine's init has copied shared/ then MACHINE/ over / before: helpers/init.h).
Halt:  MACHINE.shutdown, then shared.shutdown.
All of it runs inside the machine as its root, reading /hostlab there: lab files are never
opened by the supervisor. Scripts need no exec bit. What a machine's userland has (its PATH,
its shells) comes from its backend (backends.Profile): an image has its own.
"""
from __future__ import annotations

import os
import shlex
import stat

from ..backends import Profile
from ..model import Machine


def shell_of(machine: Machine) -> str:
    return machine.options.shell or "/bin/bash"


# A shell the machine is not known to have (lab.conf's shell=, or bash on an image) is looked
# for inside the machine, never on the host, with /bin/sh in its place if the machine lacks it.
_OR_SH = 'if [ -x "$0" ]; then exec "$0" "$@"; fi; exec /bin/sh "$@"'


def shell_argv(machine: Machine, profile: Profile, *args: str) -> list[str]:
    """argv running the machine's shell with args."""
    shell = shell_of(machine)
    if shell in profile.shells:
        return [shell, *args]
    return ["/bin/sh", "-c", _OR_SH, shell, *args]


# Every boot: the units this machine (or its lab) enabled, as systemd would start them.
START_ENABLED = "[ -s /var/lib/nk/enabled-units ] && [ -x /run/nk/bin/systemctl ] && /run/nk/bin/systemctl nk-boot"


def boot(machine: Machine) -> str:
    """shared.startup, MACHINE.startup, then the exec lines."""
    name = machine.name
    lines = [_pick_shell(machine), START_ENABLED]
    for script in ("/hostlab/shared.startup", f"/hostlab/{name}.startup"):
        lines.append(f'if [ -f {script} ]; then "$nk_sh" {script}; s=$?; fi')
    for cmd in machine.options.exec_commands:
        lines.append(f"cd /root; {cmd}")
    lines.append("exit ${s:-0}")
    return "s=0\ncd /root\n" + "\n".join(lines) + "\n"


def _pick_shell(machine: Machine) -> str:
    """Shell text setting $nk_sh to the machine's shell, or /bin/sh if the machine lacks it."""
    sh = shlex.quote(shell_of(machine))
    return f'nk_sh={sh}; [ -x "$nk_sh" ] || nk_sh=/bin/sh'


def boot_argv(machine: Machine, profile: Profile, labdir, first_boot: bool = False) -> tuple[list[str], bool]:
    """How to run the boot: straight `SHELL /hostlab/M.startup` when that is all there is; and
    whether that is `bash FILE`, which nk-enter may run without bash (helpers/script.h).

    What the lab folder holds is only glanced at here (without following symlinks) to skip
    needless work; the machine itself decides what to run from what it sees in /hostlab.
    """
    def has(rel: str) -> bool:
        try:
            st = os.lstat(labdir / rel)
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
    # (a machine booting again may have enabled units: only a first boot is plain)
    if not machine.options.exec_commands and not has("shared.startup") and first_boot:
        if not has(f"{machine.name}.startup"):
            return (["/bin/true"] if "/bin/sh" in profile.shells else ["/bin/sh", "-c", "exit 0"]), False
        argv = shell_argv(machine, profile, f"/hostlab/{machine.name}.startup")
        return argv, argv[0] == "/bin/bash"  # (else the machine's own shell=, or a wrapper)
    return shell_argv(machine, profile, "-c", boot(machine)), False


def halt(machine: Machine) -> str:
    out = ["cd /root", _pick_shell(machine)]
    for script in (f"/hostlab/{machine.name}.shutdown", "/hostlab/shared.shutdown"):
        out.append(f'[ -f {script} ] && "$nk_sh" {script}')
    out.append("exit 0")
    return "\n".join(out) + "\n"


# Words that only the shell understands: a command starting with one goes to the shell.
SHELL_WORDS = {"cd", "exit", "export", "set", "unset", "source", ".", "alias", "ulimit", "umask", "exec", "eval",
               "if", "for", "while", "until", "case", "function", "declare", "local", "read", "trap", "wait",
               "shopt", "type", "hash", "jobs", "fg", "bg", "history", "let", "readonly", "return", "shift",
               "time", "[[", "!", "{", "ulimit", "builtin", "command", "compgen", "complete", "pushd", "popd", "dirs"}
SHELL_CHARS = set("|&;<>()$`\\\"'*?[#~=%{}!\n")


def command_argv(machine: Machine, profile: Profile, command: str) -> list[str]:
    """argv for a command line: run directly when it is plain words, else by the machine's shell.

    Plain words (`ip a`, `ping -c 3 10.0.0.1`) mean exactly the same either way; skipping
    the shell saves its start-up time on every call.
    """
    words = command.split()
    if words and not (set(command) & SHELL_CHARS) and words[0] not in SHELL_WORDS:
        return words
    return shell_argv(machine, profile, "-c", command)


def environment(machine: Machine, profile: Profile, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A command's environment: the machine's userland's, root's, then lab.conf's env=, then extra."""
    env = {"HOME": "/root", "USER": "root", "LOGNAME": "root", "HOSTNAME": machine.name,
           "SHELL": shell_of(machine), "LANG": "C.UTF-8", "TERM": "xterm", **profile.env}
    env.update(machine.options.env)
    env.update(extra or {})
    return env
