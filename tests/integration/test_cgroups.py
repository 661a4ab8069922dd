"""A machine's cgroup folder from its last run (linux/cgroups.py, _clear): the processes of a
killed machine end asynchronously (the kernel tears its namespaces down first), and until they
have, the folder cannot be removed. The next start of the machine kills what is left (cgroup
v2) or waits for it to end, rather than fail with "File exists"."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nk_jupyter.linux import cgroups

ROOTS = [(var, Path(os.environ[var])) for var in ("NK_CGROUP", "NK_CGROUP_MEMORY") if os.environ.get(var)]


def _in_cgroup(folder: Path, code: str) -> subprocess.Popen:
    """A Python process running code, moved into folder (a child of ours joins it first)."""
    p = subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.stdin.readline(); {code}"],
                         stdin=subprocess.PIPE, text=True)
    (folder / "cgroup.procs").write_text(str(p.pid))
    p.stdin.write("go\n")
    p.stdin.flush()
    return p


def _rmdirs(folder: Path) -> None:
    """What a test left of a cgroup tree (cgroup folders go by rmdir, deepest first)."""
    subprocess.run(["find", str(folder), "-depth", "-type", "d", "-exec", "rmdir", "{}", "+"], stderr=subprocess.DEVNULL)


@pytest.mark.skipif(not ROOTS, reason="no delegated cgroup (NK_CGROUP): scripts/cgroup-delegate.sh makes one")
@pytest.mark.parametrize("var,root", ROOTS, ids=[var for var, _ in ROOTS])
def test_a_machine_s_busy_cgroup_from_its_last_run_is_emptied_before_it_starts_again(var, root):
    folder = root / f"lab-test{os.getpid()}" / "m" / "pc1"
    (folder / "leaf").mkdir(parents=True)
    try:
        killable = (folder / "cgroup.kill").exists()  # (cgroup v2 on Linux 5.14+)
        # a process that would outlive the wait without cgroup.kill, or ends by itself soon
        p = _in_cgroup(folder / "leaf", "time.sleep(60)" if killable else "time.sleep(0.3)")
        assert (folder / "leaf" / "cgroup.procs").read_text().split() == [str(p.pid)]
        t0 = time.monotonic()
        cgroups._clear(folder)
        took = time.monotonic() - t0
        assert not folder.exists()
        assert p.wait(timeout=5) == (-9 if killable else 0)
        assert took < cgroups.CLEAR_TIMEOUT
    finally:
        _rmdirs(folder.parent.parent)


def _runs(lab_id: str) -> dict[Path, list[Path]]:
    """Each delegated root's folders of the lab's runs."""
    return {root: sorted(root.glob(f"lab-{lab_id}@*")) for _var, root in ROOTS}


def _a_command_is_counted_in_its_machine_s_cgroups(lab, runs: list[Path]) -> None:
    """While a command runs in pc2, it and its relay are in pc2's leaf in every hierarchy (in
    cgroup v2 born there: nk-spawn's clone3 into the folder; in v1 moved there)."""
    leaves = [run / "m" / "pc2" / "leaf" / "cgroup.procs" for run in runs]
    before = [set(leaf.read_text().split()) for leaf in leaves]
    stream = lab.exec("pc2", "echo go; exec sleep 30")
    output = stream.chunks(deadline=time.monotonic() + 10)  # (kept: a dropped iteration hangs up)
    try:
        for _name, data in output:
            if b"go" in data:
                break
        during = [set(leaf.read_text().split()) - b for leaf, b in zip(leaves, before)]
        assert all(len(new) == 2 for new in during), during  # (the relay, and the command)
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in during[0]}
        assert "nk-enter" in names and names <= {"nk-enter", "bash", "sleep"}, names
    finally:
        stream.signal("KILL")
        for _ in output:
            pass
    assert stream.wait() == 137


@pytest.mark.skipif(not ROOTS, reason="no delegated cgroup (NK_CGROUP): scripts/cgroup-delegate.sh makes one")
def test_each_run_of_a_lab_has_cgroup_folders_of_its_own_and_leaves_none(make_lab):
    """A stopped lab's empty cgroup folders are removed after its clients see it stopped (4000
    rmdirs for 1000 machines on a hybrid host, ~0.7 s): a start right after must not meet them,
    and nothing of any run is left."""
    from nk_jupyter import Lab
    from nk_jupyter.engine.stateroot import lab_id
    lab = Lab.from_dir(make_lab({"lab.conf": "pc1[0]=A\npc2[0]=A\n"}))
    ident = lab_id(str(lab.directory.resolve()))
    for _var, root in ROOTS:  # what a SIGKILLed supervisor's run left: removed at the next start
        (root / f"lab-{ident}@1" / "m" / "ghost" / "leaf").mkdir(parents=True)
    try:
        owners = []
        for _ in range(2):  # start, crash, start again at once
            assert not lab.start().failed
            runs = _runs(ident)
            for root, folders in runs.items():
                assert f"lab-{ident}@1" not in [f.name for f in folders], (root, folders)
                procs = [f / "m" / "pc1" / "leaf" / "cgroup.procs" for f in folders]
                holding = [f for f, p in zip(folders, procs) if p.exists() and p.read_text().split()]
                assert len(holding) == 1, (root, folders)
                owners.append(holding[0].name)
            _a_command_is_counted_in_its_machine_s_cgroups(lab, [holding[0] for holding in
                                                                 [[f for f in runs[r] if f.name == owners[-1]] for r in runs]])
            lab.crash()
        assert len(set(owners)) == 2, owners  # (one name per run, the same in every root)
        deadline = time.monotonic() + 10
        while any(_runs(ident).values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_runs(ident).values()), _runs(ident)
    finally:
        if lab.running:
            lab.crash()
        for _var, root in ROOTS:
            for folder in root.glob(f"lab-{ident}@*"):
                _rmdirs(folder)


def _where_machine_root_mounts(lab, machine: str, run_name: str, d: cgroups.Delegation) -> dict[str, Path]:
    """Machine root mounts each delegated hierarchy in its cgroup namespace (its files are machine
    root's to write: they belong to the user's uid) and makes a folder at the root it sees; where
    that folder is on the host, per hierarchy."""
    found = {}
    for kind, how, top in (("v2", "-t cgroup2 none", d.v2), ("memory", "-t cgroup -o memory none", d.v1_memory)):
        if not top:
            continue
        r = lab.run(machine, f"mkdir -p /tmp/cg-{kind} && mount {how} /tmp/cg-{kind} && "
                             f"mkdir /tmp/cg-{kind}/probe-{kind}; umount /tmp/cg-{kind}")
        assert r.status == 0, (kind, r.stderr)
        probes = list((top / run_name).glob(f"**/probe-{kind}"))
        assert len(probes) == 1, (kind, probes)
        found[kind] = probes[0].parent.relative_to(top / run_name)
        probes[0].rmdir()
    return found


@pytest.mark.skipif(not os.environ.get("NK_CGROUP"), reason="no delegated cgroup v2 (NK_CGROUP): scripts/cgroup-delegate.sh makes one")
def test_machines_folders_have_only_the_controllers_the_lab_uses_and_a_limit_given_later_holds(make_lab):
    """A machine's folders cost ~1 ms, most of it the memory and cpu controllers' state: a lab
    without mem or cpus gives its machines only pids. The first machine with a limit enables its
    controller for the machines' folders while the others already run. Whatever a machine has,
    the root of every hierarchy it can mount holds its own processes only (the supervisor's and
    the other machines' are out of its reach: it could otherwise limit them)."""
    from nk_jupyter import Lab
    from nk_jupyter.engine.stateroot import lab_id
    d = cgroups.Delegation.find()
    lab = Lab.from_dir(make_lab({"lab.conf": "a[0]=A\nz[0]=A\nz[mem]=64m\nz[cpus]=0.5\n"}))
    ident = lab_id(str(lab.directory.resolve()))
    try:
        assert not lab.start(machines=["a"]).failed
        run, = (d.v2).glob(f"lab-{ident}@*")
        given = set((run / "m" / "cgroup.subtree_control").read_text().split())
        assert given == {"pids"} & d.v2_controllers, given
        assert "memory" not in (run / "m" / "a" / "cgroup.controllers").read_text().split()
        if "pids" in d.v2_controllers:
            assert (run / "m" / "a" / "pids.max").read_text().strip() != "max"
        roots = _where_machine_root_mounts(lab, "a", run.name, d)  # (the lab's sup/ would be an attack's)
        assert set(roots.values()) == {Path("m/a/leaf")}, roots
        assert not lab.start(machines=["z"]).failed
        given = set((run / "m" / "cgroup.subtree_control").read_text().split())
        assert given == {"pids", "memory", "cpu"} & d.v2_controllers, given
        if d.v1_memory:
            limit = (d.v1_memory / run.name / "m" / "z" / "memory.limit_in_bytes").read_text()
            assert int(limit) == 64 << 20, limit
        if d.can("memory"):
            hog = "python3 -c 'x = bytearray(200 << 20); print(len(x))'"
            r = lab.run("z", hog)
            assert r.status != 0 and "209715200" not in r.stdout, (r.status, r.stdout, r.stderr)
            assert lab.run("a", hog).stdout.strip() == str(200 << 20)  # a: no limit, and still running
        if "cpu" in d.v2_controllers:
            assert (run / "m" / "z" / "cpu.max").read_text().split() == ["50000", "100000"]
    finally:
        lab.crash()
