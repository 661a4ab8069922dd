"""`dataclass` and `field` as the standard library has them, made when a class is first used.

Every supervisor, CLI command and client starts a fresh Python, and `dataclasses.dataclass`
costs 0.3-0.5 ms per class (it compiles `__init__`, `__repr__`, `__eq__`... with `exec`) plus
8 ms to import `dataclasses` (which imports `inspect`): with this package's ~110 record
classes, that was a third of a small lab's start. Most of them are never used by one process
(a supervisor never builds a grading report; `nk vstart` never decodes a capture). So the
decorator here only marks the class; the standard decorator runs, with the same arguments, the
first time the class is instantiated or its fields are asked for (`dataclasses.fields`,
`is_dataclass`, and so `asdict` and `replace`): from then on it is an ordinary dataclass.

Until it is made, a class's `__new__` makes it (under a lock: threads may meet there) and its
`__dataclass_fields__` is a descriptor that does; the standard decorator replaces the
descriptor, and the mark goes last, so no thread ever sees a half-made class.
"""
from __future__ import annotations

from _thread import RLock

_FIELDS = "__dataclass_fields__"


class _Field:
    """`field(...)` until its class is made (then `dataclasses.field(...)` with these arguments)."""
    __slots__ = ("kwargs",)

    def __init__(self, kwargs: dict) -> None:
        self.kwargs = kwargs


def field(**kwargs):
    return _Field(kwargs)


class _FieldsOnFirstUse:
    """The class's `__dataclass_fields__` until it is made: asking for it makes the class."""

    def __init__(self, owner: type) -> None:
        self.owner = owner

    def __get__(self, obj, cls=None):
        return getattr(_make(self.owner), _FIELDS)


def _make(cls: type) -> type:
    """Run the standard decorator on cls (once), with the arguments it was marked with."""
    if "_record_options" not in cls.__dict__:  # made already, or not ours
        return cls
    with _LOCK:  # (a Jupyter kernel has threads)
        options = cls.__dict__.get("_record_options")
        if options is None or cls in _MAKING:  # (made meanwhile; or being made, by this thread)
            return cls
        _MAKING.add(cls)
        try:
            return _run_decorator(cls, options)
        finally:
            _MAKING.discard(cls)


_LOCK = RLock()  # re-entered: making a class makes its bases first
_MAKING: set = set()


def _run_decorator(cls: type, options: dict) -> type:
    """(Under _LOCK.) The standard decorator replaces the fields descriptor; the mark goes once
    it has finished (if it raises, the class stays marked and raises again)."""
    import dataclasses
    for name, value in list(cls.__dict__.items()):
        if isinstance(value, _Field):
            setattr(cls, name, dataclasses.field(**value.kwargs))
    undocumented = cls.__doc__ is None
    if undocumented:  # (the standard decorator would build it with inspect.signature: 60 us)
        cls.__doc__ = " "
    dataclasses.dataclass(cls, **options)
    if undocumented:
        cls.__doc__ = f"{cls.__name__}({', '.join(f.name for f in dataclasses.fields(cls) if f.init)})"
    if cls.__dict__.get("__new__") is _NEW:
        cls.__new__ = _PLAIN_NEW  # (one store: a thread calls either, both are right now)
    del cls._record_options
    return cls


def _new_stub(cls, *args, **kwargs):
    """A record's `__new__`: the first one makes the class (and each marked class above it), so
    that `__init__`, looked up after this returns, is the standard one. It stays (a type whose
    `__new__` was set keeps a slot that passes the arguments on, which object.__new__ would
    refuse): once the class is made, it is _plain_new."""
    make(cls)
    return object.__new__(cls)


def _plain_new(cls, *args, **kwargs):
    return object.__new__(cls)


_NEW, _PLAIN_NEW = staticmethod(_new_stub), staticmethod(_plain_new)


_MARKED: list[type] = []


def make(*classes: type) -> None:
    """Make these classes now, each with the marked classes above it (also: a process about to
    fork one that uses them makes them once, for both)."""
    for cls in classes:
        for c in reversed(cls.__mro__):
            _make(c)


def make_all() -> None:
    """Make every class marked so far (a long-lived process that would rather pay now: a
    Jupyter kernel loading nk, before its first cell)."""
    for cls in list(_MARKED):
        _make(cls)
    _MARKED.clear()


def dataclass(cls=None, /, **options):
    """`dataclasses.dataclass`, run when the class is first used (see the module's docstring)."""
    def mark(cls: type) -> type:
        cls._record_options = options
        _MARKED.append(cls)
        setattr(cls, _FIELDS, _FieldsOnFirstUse(cls))
        if "__init__" not in cls.__dict__ and "__new__" not in cls.__dict__:
            cls.__new__ = _NEW
        else:  # a class with its own __init__ or __new__ is made at once
            _make(cls)
        return cls
    return mark if cls is None else mark(cls)


__all__ = ["dataclass", "field", "make", "make_all"]
