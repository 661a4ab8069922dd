"""`dataclass` and `field` as the standard library has them, made when a class is first used.

Every supervisor, CLI command and client starts a fresh Python, and `dataclasses.dataclass`
costs 0.3-0.5 ms per class (it compiles `__init__`, `__repr__`, `__eq__`... with `exec`) plus
8 ms to import `dataclasses` (which imports `inspect`): with this package's ~110 record
classes, that was a third of a small lab's start. Most of them are never used by one process
(a supervisor never builds a grading report; `nk vstart` never decodes a capture). So the
decorator here only marks the class; the standard decorator runs, with the same arguments, the
first time the class is instantiated or its fields are asked for (`dataclasses.fields`,
`is_dataclass`, and so `asdict` and `replace`): from then on it is an ordinary dataclass.

Nothing may make an instance without calling `__init__` (pickle, `copy` or `object.__new__`
of a class never instantiated in this process): no code of this package does.
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
        if options is None:
            return cls
        return _run_decorator(cls, options)


_LOCK = RLock()  # re-entered: making a class makes its bases first


def _run_decorator(cls: type, options: dict) -> type:
    import dataclasses
    del cls._record_options
    if cls.__dict__.get("__init__") is _init_stub:
        del cls.__init__
    delattr(cls, _FIELDS)
    for name, value in list(cls.__dict__.items()):
        if isinstance(value, _Field):
            setattr(cls, name, dataclasses.field(**value.kwargs))
    undocumented = cls.__doc__ is None
    if undocumented:  # (the standard decorator would build it with inspect.signature: 60 us)
        cls.__doc__ = ""
    dataclasses.dataclass(cls, **options)
    if undocumented:
        cls.__doc__ = f"{cls.__name__}({', '.join(f.name for f in dataclasses.fields(cls) if f.init)})"
    return cls


def _init_stub(self, *args, **kwargs):
    """`__init__` of a class not made yet: make it (and each marked class above it), then init."""
    for cls in reversed(type(self).__mro__):
        _make(cls)
    type(self).__init__(self, *args, **kwargs)


_MARKED: list[type] = []


def make(*classes: type) -> None:
    """Make these classes now (a process about to fork one that uses them makes them once, for both)."""
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
        if "__init__" not in cls.__dict__:
            cls.__init__ = _init_stub
        else:  # a class with its own __init__ is made at once
            _make(cls)
        return cls
    return mark if cls is None else mark(cls)


__all__ = ["dataclass", "field", "make", "make_all"]
