"""The per-lab template of host files that every namespace node starts from.

Inside the lab's user namespace, host files owned by root (or by any unmapped user)
show up as `nobody`, and root in the namespace cannot edit them in place, even through
an overlay (rootless-plumbing.md §6). So, on the host side, before the supervisor
starts, we copy the small, often-edited parts of the host (all of /etc, most of /var)
into STATE/template/, owned by the user (inner root). Their real owners are recorded
in owners.json; the supervisor, which can chown to the mapped sub-IDs, restores them.
Each node then mounts an overlay: its own upper dir over template over host.

Unreadable host files (0600 keys, FRR's 0750 /etc/frr) are not copied; their folders
are recreated empty with the right owner, and shims/defaults/ fills in what daemons need.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

# Folders each node gets as a private copy-on-write view of the host.
PRIVATE_DIRS = ("etc", "var", "srv", "opt")
# Of those, the ones copied into the template (the rest are overlaid straight on the host).
COPIED_DIRS = ("etc", "var")
# Program folders: too big to copy, so the template holds only their folder skeleton (real
# folders, owned as on the host, no files). Laid between a machine's upper dir and the host's,
# it makes every folder the machine's root may write into (new files, replaced files, sed -i),
# while the host's files show through unchanged.
SKELETON_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Under these, only the folder skeleton is copied (daemons need the folders, not the files).
SKELETON_ONLY = ("var/cache", "var/log")
# ... but these files are copied: dpkg's and debconf's databases (`dpkg -i` of a lab's .deb),
# kept small: dpkg's info/ (file lists, 30+ MB) is laid over the host's by each machine.
COPIED_ANYWAY = ("var/cache/debconf", "var/lib/dpkg")
LARGE_OK = ("var/lib/dpkg/status", "var/lib/dpkg/available", "var/cache/debconf/templates.dat",
            "var/cache/debconf/config.dat")
# Folders each node gets empty (persisted in its disk).
EMPTY_DIRS = ("root", "home")
# Parts of /var that are large, package-manager owned, and never edited by labs.
SKIP = {"var/cache/apt", "var/lib/apt", "var/lib/dpkg/info", "var/backups",
        "var/tmp", "var/cache/man", "var/lib/postgresql", "var/lib/containers", "var/lib/docker",
        "var/cache/fontconfig", "var/lib/ucf", "var/lib/systemd/coredump", "var/log/journal"}
MAX_FILE = 512 * 1024
FORMAT = 8  # bump when build() changes what it writes
DEFAULTS = Path(__file__).parent / "shims" / "defaults"
# Old names labs use for init scripts, as symlinks to the host's script (made when that exists;
# a wheel cannot carry them as files: its build drops symlinks whose target is not in it)
INIT_ALIASES = {"bind": "named", "bind9": "named", "apache": "apache2", "mysql": "mariadb",
                "portmap": "rpcbind", "sysklogd": "rsyslog", "zebra": "quagga"}


def fingerprint(host_root: Path = Path("/")) -> str:
    """A hash of what build() would copy (names, sizes, mtimes); names the cached template.
    Every lab start computes it (~2300 entries here): plain strings and one stat per entry."""
    from ...model.macs import sha1
    h = sha1(f"format {FORMAT}".encode())
    lines: list[str] = []

    def walk(path: str, rel: str) -> None:
        if rel in SKIP:
            return
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        volatile = rel.startswith("var")  # /var changes all the time: only its shape counts
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if volatile:
                lines.append(f"{rel}/{e.name}:{st.st_mode}:{st.st_uid}")
            else:
                lines.append(f"{rel}/{e.name}:{st.st_mode}:{st.st_uid}:{st.st_size}:{st.st_mtime_ns}")
            if stat.S_ISDIR(st.st_mode):
                walk(e.path, f"{rel}/{e.name}")

    for top in COPIED_DIRS:
        walk(os.path.join(host_root, top), top)
    for probe in ("var/lib/dpkg/status", "usr", "usr/local", "usr/lib", "usr/share"):  # packages come and go
        try:
            lines.append(f"{probe}:{os.stat(host_root / probe).st_mtime_ns}")
        except OSError:
            pass
    for f in sorted(DEFAULTS.rglob("*")):  # by content: two installs of one nk share a template
        lines.append(f"{f.relative_to(DEFAULTS)}:{sha1(f.read_bytes()).hexdigest() if f.is_file() else 'dir'}")
    h.update("\n".join(lines).encode())
    return h.hexdigest()[:12]


def build(target: Path, host_root: Path = Path("/")) -> None:
    """Copy host folders into target and write target/owners.json."""
    owners: list[list] = []
    for top in COPIED_DIRS:
        src = host_root / top
        if src.is_dir():
            _copy_tree(src, target / top, top, owners)
    for top in SKELETON_DIRS:
        src = host_root / top
        if src.is_dir() and not src.is_symlink():
            _skeleton(src, target / top, top, owners)
    if DEFAULTS.is_dir():
        _apply_defaults(DEFAULTS, target, owners)
    _init_aliases(target)
    _as_kathara_images(target)
    _ssh_host_keys(target)
    (target / "owners.json").write_text(json.dumps(owners))


def _as_kathara_images(target: Path) -> None:
    """What Kathara's images have where the host differs: loopback only in
    /etc/network/interfaces (a host's own eth0 stanza would have every machine run DHCP),
    dpkg's and debconf's lock and password files of the template's own (the host's are
    unreadable), FRR as kathara/frr runs it."""
    net = target / "etc" / "network"
    if net.is_dir():
        (net / "interfaces").write_text("# nk: machines configure their interfaces in their startups\n"
                                        "auto lo\niface lo inet loopback\n")
        for f in (net / "interfaces.d").glob("*") if (net / "interfaces.d").is_dir() else []:
            f.unlink()
    dpkg = target / "var" / "lib" / "dpkg"
    if dpkg.is_dir():
        for name in ("lock", "lock-frontend", "triggers/Lock"):
            if (dpkg / name).parent.is_dir():
                (dpkg / name).touch()
        (dpkg / "info").mkdir(exist_ok=True)
    debconf = target / "var" / "cache" / "debconf"
    if debconf.is_dir() and not (debconf / "passwords.dat").exists():
        (debconf / "passwords.dat").touch(mode=0o600)
    _frr_as_kathara(target)


def _frr_as_kathara(target: Path) -> None:
    """FRR as Kathara's kathara/frr image has it: no integrated frr.conf (so a lab's per-daemon
    bgpd.conf, zebra.conf ... are read: frrinit.sh uses frr.conf only if it exists) and
    vtysh.conf with `no service integrated-vtysh-config`; a lab that brings frr.conf gets the
    integrated mode."""
    frr = target / "etc" / "frr"
    if frr.is_dir():
        (frr / "frr.conf").unlink(missing_ok=True)
        (frr / "vtysh.conf").write_text("no service integrated-vtysh-config\n")


def _ssh_host_keys(target: Path) -> None:
    """The host's ssh keys are unreadable to us: give the template keys of its own."""
    ssh = target / "etc" / "ssh"
    import shutil  # (in the functions that build: every lab start imports this module)
    if ssh.is_dir() and shutil.which("ssh-keygen") and not list(ssh.glob("ssh_host_*_key")):
        import subprocess
        subprocess.run(["ssh-keygen", "-A", "-f", str(target)], capture_output=True)


def _copy_tree(src: Path, dst: Path, rel: str, owners: list[list]) -> None:
    import shutil
    try:
        st = src.lstat()
    except OSError:
        return
    dst.mkdir(exist_ok=True)
    os.chmod(dst, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    _record(owners, rel, st)
    if rel in SKIP:
        return
    private = not (st.st_mode & stat.S_IROTH and st.st_mode & stat.S_IXOTH)
    try:
        entries = [] if private else list(os.scandir(src))
    except OSError:
        private = True
    if private:  # a folder not open to everyone: left empty (owner recorded), hiding the host's
        _make_opaque(dst)
        return
    for e in entries:
        r = f"{rel}/{e.name}"
        try:
            est = e.stat(follow_symlinks=False)
        except OSError:
            continue
        d = dst / e.name
        if stat.S_ISDIR(est.st_mode):
            _copy_tree(Path(e.path), d, r, owners)
        elif stat.S_ISLNK(est.st_mode):
            os.symlink(os.readlink(e.path), d)
        elif stat.S_ISREG(est.st_mode):
            if (rel.startswith(SKELETON_ONLY) and not rel.startswith(COPIED_ANYWAY)) or \
                    (est.st_size > MAX_FILE and rel.startswith("var") and r not in LARGE_OK):
                continue
            if not est.st_mode & stat.S_IROTH:  # readable by its owner or group only (the user's
                continue                         # mail, keys of a group the user is in): not shared
            try:
                shutil.copyfile(e.path, d)
            except OSError:
                continue
            os.chmod(d, stat.S_IMODE(est.st_mode) | stat.S_IRUSR)
            os.utime(d, ns=(est.st_atime_ns, est.st_mtime_ns))
            _record(owners, r, est)


def _skeleton(src: Path, dst: Path, rel: str, owners: list[list]) -> None:
    """The real folders below src, empty, with their modes and owners (iterative: any depth)."""
    todo = [(src, dst, rel)]
    while todo:
        s, d, r = todo.pop()
        try:
            st = s.lstat()
            entries = list(os.scandir(s))
        except OSError:
            continue
        d.mkdir(exist_ok=True)
        os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
        if st.st_uid or st.st_gid:  # root-owned folders stay the lab root's: nothing to record
            _record(owners, r, st)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                todo.append((Path(e.path), d / e.name, f"{r}/{e.name}"))


def _make_opaque(path: Path) -> None:
    """Mark a template folder opaque, so overlays never read the host folder below it."""
    try:
        os.setxattr(path, "user.overlay.opaque", b"y")
    except OSError:
        pass


def _record(owners: list[list], rel: str, st: os.stat_result) -> None:
    if st.st_uid != os.getuid() or st.st_gid != os.getgid():
        owners.append([rel, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)])


def _apply_defaults(src: Path, target: Path, owners: list[list]) -> None:
    """Fill in files the host hides from us (e.g. /etc/frr/*) from shims/defaults/."""
    import shutil
    for dirpath, _dirs, files in os.walk(src):
        rel_dir = Path(dirpath).relative_to(src)
        for name in files:
            rel = rel_dir / name
            if not (target / rel.parent).is_dir() or (target / rel).exists():
                continue
            src_file = Path(dirpath) / name
            if src_file.is_symlink():
                os.symlink(os.readlink(src_file), target / rel)
                continue
            shutil.copyfile(src_file, target / rel)
            mode = stat.S_IMODE(src_file.stat().st_mode)
            os.chmod(target / rel, mode)
            parent = next((o for o in owners if o[0] == str(rel.parent)), None)
            if parent:
                owners.append([str(rel), parent[1], parent[2], mode & ~0o027 if parent[1] else mode])


def _init_aliases(target: Path) -> None:
    initd = target / "etc" / "init.d"
    for old, new in INIT_ALIASES.items():
        if initd.is_dir() and not os.path.lexists(initd / old):
            os.symlink(new, initd / old)


def restore_owners(target: Path, full_map: bool) -> None:
    """Inside the user namespace: give template files their host owners back.

    Host uid N becomes inner uid N, which the sub-ID map backs with a real ID; host
    root becomes inner root (the user). With a single-ID map only root exists, so
    daemons must run as root and nothing is chowned.
    """
    try:
        owners = json.loads((target / "owners.json").read_text())
    except OSError:
        return
    for rel, uid, gid, mode in owners:
        path = target / rel
        inner_uid = uid if full_map and uid < 65536 else 0
        inner_gid = gid if full_map and gid < 65536 else 0
        try:
            os.lchown(path, inner_uid, inner_gid)
            if not path.is_symlink():
                os.chmod(path, mode)
        except OSError:
            pass


def ensure(root: Path, remove_trees, in_use) -> Path:
    """This user's template of host files under root, built once per host-file fingerprint;
    older templates no live lab uses are removed."""
    import fcntl
    path = root / f"template-{fingerprint()}"
    if path.is_dir() and (path / "owners.json").exists() and not any(root.glob(".building-*")):
        return path
    lock = os.open(root / ".template.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = list(root.glob(".building-*"))  # builders hold the lock: these are from killed ones
        if stale:
            remove_trees(stale)
        if not (path / "owners.json").exists():
            tmp = root / f".building-{os.getpid()}"
            tmp.mkdir(mode=0o700)
            try:
                build(tmp)
                tmp.rename(path)
            except BaseException:
                remove_trees([tmp])
                raise
            used = in_use("namespaces", "template")
            old = [p for p in root.glob("template-*") if p != path and str(p) not in used]
            if old:
                remove_trees(old)
    finally:
        os.close(lock)
    return path
