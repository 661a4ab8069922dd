"""Netkit's first boot: a lab folder's tree copied over the machine's / (shared/, then MACHINE/).

Run by the machine's init as machine root, inside the machine (its / is the machine's, the
lab folder is /hostlab), so nothing it follows can lead out of the machine. It needs no
program of the machine's (an image may have no tar), only what Python had loaded before the
init left the host's files. What tar -xp --no-same-owner --keep-directory-symlink does:

- files, symlinks and FIFOs are made anew (what is in the way is replaced, a symlink
  is never written through); devices and sockets are left out;
- a folder over a symlink to a folder keeps the symlink (/lib -> usr/lib) and fills it;
- modes and times are the lab's (set-ID bits dropped), owners are machine root;
- then Kathara's conventions: lab configs of FRR and Quagga handed to the frr user, files
  under /var/www writable by all (CGI, uploads), units enabled in the folder started at
  every boot (/var/lib/nk/enabled-units, read by the systemctl shim).

A folder copied is bounded (MAX_ENTRIES, MAX_BYTES): another machine may be writing into
/hostlab while this one boots.
"""
from __future__ import annotations

import os
import stat

MAX_ENTRIES = 100_000
MAX_BYTES = 512 << 20
ENABLED = "/var/lib/nk/enabled-units"
WANTS = ("etc/systemd/system", "lib/systemd/system")


class _Budget:
    def __init__(self) -> None:
        self.entries, self.bytes = 0, 0
        self.folder_times: list[tuple[str, os.stat_result]] = []  # set last (their files change them)


def copy_over(src: str) -> list[str]:
    """Copy the tree at src over /; returns problems (one line each, the first few)."""
    try:
        st = os.lstat(src)
    except OSError:
        return []
    if not stat.S_ISDIR(st.st_mode):
        return []
    problems: list[str] = []
    budget = _Budget()
    stack = [("", src)]  # (path below /, its source), folders first, breadth by folder
    while stack:
        rel, folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            _say(problems, f"cannot read {folder}: {e.strerror}")
            continue
        for entry in entries:
            budget.entries += 1
            if budget.entries > MAX_ENTRIES or budget.bytes > MAX_BYTES:
                _say(problems, f"{src} is larger than {MAX_ENTRIES} files or {MAX_BYTES >> 20} MiB: the rest "
                               "was not copied")
                return problems
            dst = f"{rel}/{entry.name}"
            try:
                _copy_one(entry, dst, stack, budget)
            except OSError as e:
                _say(problems, f"cannot copy {entry.path} to {dst}: {e.strerror or e}")
    for dst, st in reversed(budget.folder_times):
        try:
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass
    _conventions(src, problems)
    return problems


def _copy_one(entry: os.DirEntry, dst: str, stack: list, budget: _Budget) -> None:
    st = entry.stat(follow_symlinks=False)
    mode = stat.S_IMODE(st.st_mode) & 0o1777  # no set-ID bits (the seccomp filter refuses them anyway)
    if stat.S_ISDIR(st.st_mode):
        if not os.path.isdir(dst):  # (a symlink to a folder is kept and filled)
            _remove(dst)
            os.mkdir(dst, 0o700)
        stack.append((dst, entry.path))
        os.chmod(dst, mode)
        budget.folder_times.append((dst, st))
        return
    if stat.S_ISREG(st.st_mode):
        _remove(dst)
        src_fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(src_fd).st_mode):
                return  # swapped for something else meanwhile
            dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                while True:
                    n = os.sendfile(dst_fd, src_fd, None, 1 << 20)
                    if not n:
                        break
                    budget.bytes += n
                    if budget.bytes > MAX_BYTES:
                        break
                os.fchmod(dst_fd, mode)
                os.utime(dst_fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)
    elif stat.S_ISLNK(st.st_mode):
        target = os.readlink(entry.path)
        _remove(dst)
        os.symlink(target, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    elif stat.S_ISFIFO(st.st_mode):
        _remove(dst)
        os.mkfifo(dst, mode)


def _remove(path: str) -> None:
    """Make room at path (a real folder in the way stays: tar does not remove one either)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "a folder is in the way")
    os.unlink(path)


def _say(problems: list[str], text: str) -> None:
    if len(problems) < 5:
        problems.append(text)


# -- Kathara's conventions ----------------------------------------------------------------
def _conventions(src: str, problems: list[str]) -> None:
    frr = _user("frr")
    for conf in ("/etc/frr", "/etc/quagga"):
        if frr and os.path.isdir(src + conf) and not os.path.islink(conf) and os.path.isdir(conf):
            for path, is_file in _walk(conf):
                try:
                    os.chown(path, frr[0], frr[1], follow_symlinks=False)
                    if is_file:
                        os.chmod(path, 0o640)
                except OSError as e:
                    _say(problems, f"cannot hand {path} to frr: {e.strerror}")
    if os.path.isdir(src + "/var/www") and os.path.isdir("/var/www"):
        for path, is_file in _walk("/var/www"):
            if path == "/var/www":
                continue
            try:
                m = stat.S_IMODE(os.lstat(path).st_mode)
                execute = 0o111 if (not is_file or m & 0o111) else 0
                os.chmod(path, m | 0o666 | execute)
            except OSError:
                pass
    wanted = []
    for where in WANTS:
        try:
            folders = [e for e in os.scandir(f"{src}/{where}") if e.name.endswith(".wants") and e.is_dir()]
        except OSError:
            continue
        for folder in folders:
            wanted += sorted(e.name for e in os.scandir(folder.path))
    if wanted:
        try:
            os.makedirs(os.path.dirname(ENABLED), exist_ok=True)
            with open(ENABLED, "a") as f:
                f.write("".join(f"{unit}\n" for unit in wanted))
        except OSError as e:
            _say(problems, f"cannot record the units {src} enables: {e.strerror}")


def _walk(top: str):
    """(path, is a file) of top and everything below it, symlinks not followed nor included."""
    yield top, False
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
                yield e.path, False
            elif e.is_file(follow_symlinks=False):
                yield e.path, True


def _user(name: str) -> tuple[int, int] | None:
    """(uid, gid) of a user in the machine's /etc/passwd (read as a file: no NSS module of the
    machine's is loaded into this process)."""
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 3 and parts[0] == name:
                    return int(parts[2]), int(parts[3])
    except (OSError, ValueError):
        pass
    return None
