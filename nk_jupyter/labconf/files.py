"""How nk reads a lab folder it does not trust: beneath it, without following symlinks,
regular files only, bounded sizes. Every error names the file.

- Lab files (lab.conf, lab.dep, _test/ ...) are read through read_text: a symlink, a FIFO or
  a device is refused (nothing is opened through it, nothing of it is echoed).
- Machine folders (shared/, MACHINE/) may hold folders, regular files and symlinks only;
  they are copied over a machine's / at first boot (inside the machine, see
  engine/bootscript.py), so a device node, a FIFO, a huge or too deep tree is refused here,
  with its name, before anything starts.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nk_jupyter.errors import LabConfError
from nk_jupyter.linux import paths

MAX_LAB_FILE = 1 << 20         # lab.conf, lab.dep, startup scripts read by nk itself
MAX_MACHINE_FILE = 64 << 20    # one file of a machine folder
MAX_MACHINE_TREE = 512 << 20   # all files of the machine folders together
MAX_ENTRIES = 100_000
MAX_DEPTH = 64


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"


def read_text(directory: Path, rel: str, limit: int = MAX_LAB_FILE) -> str | None:
    """The UTF-8 text of the lab file rel (None if absent); LabConfError if it is a symlink,
    not a regular file, too large, not UTF-8 or has CRLF line ends."""
    path = directory / rel
    try:
        dirfd = paths.open_dir(str(directory))
    except OSError as e:
        raise LabConfError(directory, None, f"cannot open the lab folder: {e.strerror}") from None
    try:
        data = paths.read_regular(dirfd, rel, limit)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno in (errno.ELOOP, errno.EXDEV):
            raise LabConfError(path, None, "is a symlink (or leaves the lab folder); lab files must be "
                                           "regular files inside it (a lab may be untrusted)") from None
        if e.errno == errno.EFBIG:
            raise LabConfError(path, None, f"is larger than {_size(limit)}") from None
        if e.errno in (errno.EINVAL, errno.EISDIR, errno.ENXIO):
            raise LabConfError(path, None, "is not a regular file") from None
        raise LabConfError(path, None, f"cannot read it: {e.strerror}") from None
    finally:
        os.close(dirfd)
    return decode(path, data)


def decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise LabConfError(path, line, "not UTF-8 text") from None
    if "\r" in text:
        line = text[: text.index("\r")].count("\n") + 1
        raise LabConfError(path, line, "Windows (CRLF) line ends; convert with dos2unix")
    return text


KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device node",
         stat.S_IFBLK: "a device node"}


def check_machine_folders(directory: Path, folders: list[Path]) -> None:
    """Refuse what a machine folder must not hold (named, with the rule it breaks)."""
    total = entries = 0
    for top in folders:
        todo = [(top, 0)]
        while todo:
            folder, depth = todo.pop()
            if depth > MAX_DEPTH:
                raise LabConfError(folder, None, f"folders nest deeper than {MAX_DEPTH} levels in a machine folder")
            try:
                listing = list(os.scandir(folder))
            except OSError as e:
                raise LabConfError(folder, None, f"cannot read this folder: {e.strerror}") from None
            for e in listing:
                entries += 1
                if entries > MAX_ENTRIES:
                    raise LabConfError(top, None, f"the machine folders hold more than {MAX_ENTRIES} entries")
                st = e.stat(follow_symlinks=False)
                kind = stat.S_IFMT(st.st_mode)
                if kind == stat.S_IFDIR:
                    todo.append((Path(e.path), depth + 1))
                elif kind == stat.S_IFREG:
                    if st.st_size > MAX_MACHINE_FILE:
                        raise LabConfError(e.path, None, f"is {_size(st.st_size)}: a file in a machine folder may "
                                                         f"be {_size(MAX_MACHINE_FILE)} at most")
                    total += st.st_size
                    if total > MAX_MACHINE_TREE:
                        raise LabConfError(e.path, None, f"the machine folders hold more than "
                                                         f"{_size(MAX_MACHINE_TREE)} of files")
                elif kind in KINDS:
                    raise LabConfError(e.path, None, f"is {KINDS[kind]}: machine folders may hold only "
                                                     "folders, regular files and symlinks")


class Folder:
    """A real folder inside a lab, held by a descriptor: every read, write and removal is
    relative to it and refuses symlinks, so nothing a lab (or a machine writing into /hostlab
    meanwhile) plants can send nk outside the lab folder. Used by grading (_test/)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd, self.path = fd, path

    @classmethod
    def lab(cls, directory: Path) -> "Folder":
        return cls(paths.open_dir(str(directory)), directory)

    def sub(self, name: str, create: bool = False) -> "Folder | None":
        """The real sub-folder name (made if create), or None if it is missing; LabConfError if
        it is a symlink or not a folder."""
        if create:
            try:
                os.mkdir(name, 0o755, dir_fd=self.fd)
            except FileExistsError:
                pass
        try:
            fd = paths.openat2(self.fd, name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, paths.STRICT)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            try:
                link = stat.S_ISLNK(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            what = "a symlink" if link or e.errno in (errno.ELOOP, errno.EXDEV) else "not a folder"
            raise LabConfError(self.path / name, None, f"is {what}; it must be a folder of the lab") from None
        return Folder(fd, self.path / name)

    def entries(self) -> list[tuple[str, int]]:
        """(name, stat.S_IFMT kind) of what the folder holds, symlinks not followed."""
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            with os.scandir(fd) as it:
                return sorted((e.name, stat.S_IFMT(e.stat(follow_symlinks=False).st_mode)) for e in it)
        finally:
            os.close(fd)

    def is_file(self, name: str) -> bool:
        try:
            return stat.S_ISREG(os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def read(self, name: str, limit: int = MAX_LAB_FILE) -> bytes:
        """A regular file's bytes; LabConfError naming it if it is a symlink, special or too big."""
        try:
            return paths.read_regular(self.fd, name, limit)
        except OSError as e:
            why = {errno.ELOOP: "is a symlink", errno.EXDEV: "is a symlink", errno.EFBIG: f"is larger than {_size(limit)}",
                   errno.EINVAL: "is not a regular file"}.get(e.errno, f"cannot be read: {e.strerror}")
            raise LabConfError(self.path / name, None, why) from None

    def write(self, name: str, data: bytes) -> None:
        """Replace name with a new regular file (a symlink there is removed, never followed)."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            self.remove(name)
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=self.fd)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def remove(self, name: str) -> None:
        """Remove name, a folder with its contents (fd-based, never through a symlink) or anything else."""
        try:
            st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            paths.remove_tree(name, dirfd=self.fd)
        else:
            os.unlink(name, dir_fd=self.fd)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "Folder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
