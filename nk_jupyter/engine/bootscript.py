"""The shell text a machine runs at boot and at halt (Netkit's phases, Kathara's order).

Boot:  on first boot, shared/ then MACHINE/ copied over / (Netkit's phase 1); then
       shared.startup, MACHINE.startup and the `exec` lines, in /root.
Halt:  MACHINE.shutdown, then shared.shutdown.
All of it runs inside the machine as its root, reading /hostlab there: lab files are never
opened by the supervisor. Scripts need no exec bit.
"""
from __future__ import annotations

import os
import shlex
import stat

from ..model import Machine

ENV_PATH = "/run/nk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def shell_of(machine: Machine) -> str:
    return machine.options.shell or "/bin/bash"


# The shells every host has; another one (lab.conf's shell=) is looked for inside the machine,
# never on the host, with /bin/sh in its place if the machine has no such program.
KNOWN_SHELLS = ("/bin/bash", "/bin/sh", "/usr/bin/bash", "/bin/dash", "/usr/bin/dash")
_OR_SH = 'if [ -x "$0" ]; then exec "$0" "$@"; fi; exec /bin/sh "$@"'


def shell_argv(machine: Machine, *args: str) -> list[str]:
    """argv running the machine's shell with args."""
    shell = shell_of(machine)
    if shell in KNOWN_SHELLS:
        return [shell, *args]
    return ["/bin/sh", "-c", _OR_SH, shell, *args]


# First boot: each folder's tree over /, as machine root. tar replaces what is there (a symlink
# in the way is replaced, not followed), keeps the machine's symlinked folders (/lib -> usr/lib),
# recreates symlinks as symlinks and never reads FIFOs or devices; lab configs for FRR and
# Quagga are then handed to the frr user, as Debian's packages own them.
COPY_OVER = """for src in {sources}; do
  [ -d "$src" ] && [ ! -L "$src" ] || continue
  tar -C "$src" -cSf - . | tar -C / -xpf - --no-same-owner --keep-directory-symlink \\
    || echo "nk: some files of $src could not be copied over /" >&2
  for conf in /etc/frr /etc/quagga; do
    if [ -d "$src$conf" ] && [ ! -L "$conf" ] && id frr >/dev/null 2>&1; then
      chown -R frr:frr "$conf"; find "$conf" -type f -exec chmod 640 {{}} +
    fi
  done
  [ -d "$src/var/www" ] && chmod -R a+rwX /var/www/* 2>/dev/null  # as Kathara does (CGI, uploads)
  for want in "$src"/etc/systemd/system/*.wants/* "$src"/lib/systemd/system/*.wants/*; do
    [ -e "$want" ] || [ -L "$want" ] || continue   # units the lab enabled start at every boot
    mkdir -p /var/lib/nk && echo "${{want##*/}}" >> /var/lib/nk/enabled-units
  done
done
"""
# Every boot: the units this machine (or its lab) enabled, as systemd would start them.
START_ENABLED = "[ -s /var/lib/nk/enabled-units ] && /run/nk/bin/systemctl nk-boot"


def copy_over(machine: Machine) -> str:
    return COPY_OVER.format(sources=f"/hostlab/shared /hostlab/{machine.name}")


def boot(machine: Machine, first_boot: bool = False) -> str:
    """First-boot copy, shared.startup, MACHINE.startup, then the exec lines."""
    name = machine.name
    lines = [_pick_shell(machine)] + ([copy_over(machine)] if first_boot else []) + [START_ENABLED]
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


def boot_argv(machine: Machine, labdir, first_boot: bool = False) -> list[str]:
    """How to run the boot: straight `SHELL /hostlab/M.startup` when that is all there is.

    What the lab folder holds is only glanced at here (without following symlinks) to skip
    needless work; the machine itself decides what to run from what it sees in /hostlab.
    """
    def has(rel: str, folder: bool = False) -> bool:
        try:
            st = os.lstat(labdir / rel)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)
    copy = first_boot and (has("shared", True) or has(machine.name, True))
    # (a machine booting again may have enabled units: only a first boot without files is plain)
    if not machine.options.exec_commands and not has("shared.startup") and not copy and first_boot:
        if not has(f"{machine.name}.startup"):
            return ["/bin/true"]
        return shell_argv(machine, f"/hostlab/{machine.name}.startup")
    return shell_argv(machine, "-c", boot(machine, copy))


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


def command_argv(machine: Machine, command: str) -> list[str]:
    """argv for a command line: run directly when it is plain words, else by the machine's shell.

    Plain words (`ip a`, `ping -c 3 10.0.0.1`) mean exactly the same either way; skipping
    the shell saves its start-up time on every call.
    """
    words = command.split()
    if words and not (set(command) & SHELL_CHARS) and words[0] not in SHELL_WORDS:
        return words
    return shell_argv(machine, "-c", command)


def environment(machine: Machine, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": ENV_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
        "HOSTNAME": machine.name, "SHELL": shell_of(machine), "LANG": "C.UTF-8", "TERM": "xterm",
        "BASH_ENV": "/run/nk/share/bashenv",  # names a missing program's Debian package
    }
    env.update(machine.options.env)
    env.update(extra or {})
    return env
