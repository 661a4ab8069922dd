"""nk_jupyter.records: the standard dataclass decorator, run when a class is first used."""
from __future__ import annotations

import ast
import dataclasses
import subprocess
import sys
import threading
from typing import ClassVar

import pytest

from nk_jupyter.records import dataclass, field


def _made(cls) -> bool:
    return "_record_options" not in cls.__dict__


def test_a_record_is_a_dataclass_from_its_first_instance():
    @dataclass
    class Point:
        KIND: ClassVar[str] = "point"
        x: int
        tags: list = field(default_factory=list)
    assert not _made(Point)
    p, q = Point(1), Point(1)
    assert _made(Point) and dataclasses.is_dataclass(p)
    assert p == q and repr(p) == "test_a_record_is_a_dataclass_from_its_first_instance.<locals>.Point(x=1, tags=[])"
    assert p.tags is not q.tags  # default_factory, not a shared list
    assert [f.name for f in dataclasses.fields(Point)] == ["x", "tags"]  # ClassVar is no field
    assert dataclasses.replace(p, x=2) == Point(2) and dataclasses.asdict(p) == {"x": 1, "tags": []}
    with pytest.raises(TypeError):
        Point()  # x is required, as in a dataclass


def test_asking_for_the_fields_makes_the_class_and_frozen_stays_frozen():
    @dataclass(frozen=True)
    class Key:
        a: str
        b: int = 0
    assert [f.name for f in dataclasses.fields(Key)] == ["a", "b"] and _made(Key)
    k = Key("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        k.a = "y"
    assert {k: 1}[Key("x", 0)] == 1  # hashable as a frozen dataclass is


def test_a_subclass_gets_its_bases_fields_whichever_is_used_first():
    @dataclass
    class Base:
        a: int

    @dataclass
    class Child(Base):
        b: str = ""

    class Plain(Child):  # not decorated: inherits the made __init__
        pass
    assert Child(1, "z").a == 1 and _made(Base) and _made(Child)
    assert Plain(2).b == "" and Base(3) == Base(3)
    assert [f.name for f in dataclasses.fields(Plain)] == ["a", "b"]


def test_threads_making_one_class_at_once_all_get_a_made_class():
    """Threads that use a class for the first time at once (nk ltest's workers, a kernel's
    threads): each gets a whole instance, with the switch interval short enough that a thread
    is often interrupted while the class is being made."""
    classes = []
    for i in range(40):
        @dataclass(frozen=bool(i % 2))
        class Shared:
            v: int
            w: list = field(default_factory=list)
        classes.append(Shared)
    errors, made = [], []
    barrier = threading.Barrier(8)

    def use():
        barrier.wait()
        for cls in classes:
            try:
                obj = cls(3)
                made.append(obj.v == 3 and obj.w == [] and dataclasses.is_dataclass(obj))
            except Exception as e:  # noqa: BLE001  (what a half-made class would raise)
                errors.append(repr(e))
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == [] and made == [True] * (8 * len(classes))


def test_a_copy_or_an_unpickled_instance_makes_its_class():
    import copy
    import pickle
    from nk_jupyter.engine.messages import ChildFailed
    assert pickle.loads(pickle.dumps(ChildFailed("k", "m"))) == ChildFailed("k", "m")
    assert copy.deepcopy(ChildFailed("k", "m", {"a": [1]})).fields == {"a": [1]}


def test_the_supervisor_and_the_api_import_without_making_a_record_class():
    """What a supervisor imports before it serves, and the API a client imports, define ~100
    record classes: none may be made at import (each costs 0.3-0.5 ms)."""
    code = ("import sys, nk_jupyter.engine.supervisor as s, nk_jupyter.api; s._preload(); "
            "print(sorted(f'{c.__module__}.{c.__qualname__}' for m in list(sys.modules.values()) "
            "if m.__name__.startswith('nk_jupyter') for c in vars(m).values() "
            "if isinstance(c, type) and isinstance(c.__dict__.get('__dataclass_fields__'), dict)), "
            "'pyroute2' in sys.modules)")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout
    made, pyroute2 = out.strip().rsplit(" ", 1)
    # (the namespace backend's one module-level Profile, which every start needs anyway)
    assert set(ast.literal_eval(made)) <= {"nk_jupyter.backends.Profile"} and pyroute2 == "False"


def test_a_supervisor_does_not_import_what_only_uplinks_use():
    """subprocess (with locale and threading) and shutil (with the archive modules) cost ~4 ms of
    every lab start; only uplinks, ports and tree removal use them."""
    code = ("import sys, nk_jupyter.engine.supervisor as s; s._preload(); "
            "print([m for m in ('subprocess', 'threading', 'shutil', 'pyroute2') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_record_class_of_nk_can_be_made():
    """A mistake in a record class (a field without default after one with) shows only when the
    class is made: make every one of them here."""
    import importlib
    import pkgutil

    import nk_jupyter
    from nk_jupyter import records
    for info in pkgutil.walk_packages(nk_jupyter.__path__, "nk_jupyter."):
        if not info.name.endswith(("__main__", "mounter", "reaper")):
            importlib.import_module(info.name)
    ours = {c for m in list(sys.modules.values()) if m.__name__.startswith("nk_jupyter.")
            for c in vars(m).values() if isinstance(c, type) and "__dataclass_fields__" in c.__dict__}
    assert len(ours) > 80
    records.make_all()
    assert all(isinstance(c.__dict__["__dataclass_fields__"], dict) and _made(c) for c in ours)
