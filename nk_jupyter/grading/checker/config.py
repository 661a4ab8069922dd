"""Reading kathara-lab-checker configurations (JSON or YAML) with line numbers.

load_config(path) -> Config. Every value is reached through a Node, which knows its
place in the file, so a bad value is reported as LabConfError("file", line, "test.x.y:
what is wrong"). JSON lines come from the decoder (objects and arrays) and from the
key's text (scalars); YAML lines from the parser's marks.
"""
from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from ...records import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import LabConfError

Path_ = tuple


@dataclass
class Config:
    path: Path
    data: dict
    lines: dict[Path_, int] = field(default_factory=dict)

    def node(self, *keys) -> "Node":
        value: Any = self.data
        for k in keys:
            value = value[k]
        return Node(self, tuple(keys), value)

    def line(self, path: Path_) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


@dataclass
class Node:
    """A value of the configuration and where it is."""
    config: Config
    path: Path_
    value: Any

    @property
    def where(self) -> str:
        return ".".join(str(p) for p in self.path) or "(top level)"

    def error(self, message: str) -> LabConfError:
        return LabConfError(self.config.path, self.config.line(self.path), f"{self.where}: {message}")

    def child(self, key) -> "Node":
        return Node(self.config, self.path + (key,), self.value[key])

    def items(self) -> list[tuple[str, "Node"]]:
        """(key, node) of a mapping; LabConfError if this is not one."""
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        return [(str(k), self.child(k)) for k in self.value]

    def elements(self) -> list["Node"]:
        """The nodes of a list; LabConfError if this is not one."""
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        return [self.child(i) for i in range(len(self.value))]

    def text(self) -> str:
        if isinstance(self.value, bool) or not isinstance(self.value, (str, int, float)):
            raise self.error(f"expected a string, got {_kind(self.value)}")
        return str(self.value)

    def number(self) -> float:
        try:
            if isinstance(self.value, bool):
                raise ValueError
            return float(self.value)
        except (TypeError, ValueError):
            raise self.error(f"expected a number, got {_kind(self.value)} {self.value!r}") from None

    def get(self, key: str) -> "Node | None":
        return self.child(key) if isinstance(self.value, dict) and key in self.value else None


def _kind(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing",
            int: "a number", float: "a number"}.get(type(v), f"a {type(v).__name__}")


def load_config(path: str | Path) -> Config:
    """Read a configuration file; LabConfError naming file and line if it is malformed."""
    path = Path(path)
    if not path.is_file():
        raise LabConfError(path, None, "no such checker configuration file")
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        data, lines = _load_json(path, text)
    else:
        data, lines = _load_yaml(path, text)
    if not isinstance(data, dict):
        raise LabConfError(path, 1, f"a checker configuration is a mapping (with a `test:` key), got {_kind(data)}")
    return Config(path, data, lines)


def _load_json(path: Path, text: str) -> tuple[Any, dict]:
    starts: dict[int, int] = {}   # id(container) -> offset of its first character
    decoder = json.JSONDecoder()
    parse_object, parse_array = decoder.parse_object, decoder.parse_array

    def obj(s_and_end, *args):
        value, end = parse_object(s_and_end, *args)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    def arr(s_and_end, *args):
        value, end = parse_array(s_and_end, *args)
        starts[id(value)] = s_and_end[1] - 1
        return value, end

    decoder.parse_object, decoder.parse_array = obj, arr
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        data = decoder.decode(text)
    except json.JSONDecodeError as e:
        raise LabConfError(path, e.lineno, f"not valid JSON: {e.msg} (column {e.colno})") from None
    lines: dict[Path_, int] = {}

    def line_of(offset: int) -> int:
        return text.count("\n", 0, offset) + 1

    def walk(value: Any, where: Path_) -> None:
        if id(value) in starts:
            lines[where] = line_of(starts[id(value)])
        if isinstance(value, dict):
            origin = starts.get(id(value), 0)
            for k, v in value.items():
                m = re.compile(r'"%s"\s*:' % re.escape(json.dumps(k)[1:-1])).search(text, origin)
                if m:
                    lines[where + (k,)] = line_of(m.start())
                walk(v, where + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, where + (i,))

    walk(data, ())
    return data, lines


def _load_yaml(path: Path, text: str) -> tuple[Any, dict]:
    try:
        import yaml
    except ImportError:
        raise LabConfError(path, None, "YAML configurations need PyYAML (pip install pyyaml); "
                                       "or give the configuration as JSON") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise LabConfError(path, mark.line + 1 if mark else None,
                           f"not valid YAML: {getattr(e, 'problem', None) or e}") from None
    lines: dict[Path_, int] = {}
    loader = yaml.SafeLoader("")

    def walk(node, where: Path_) -> None:
        lines.setdefault(where, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = loader.construct_object(k, deep=True)
                if isinstance(key, (str, int, float, bool)):
                    lines[where + (key,)] = k.start_mark.line + 1
                    walk(v, where + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, where + (i,))

    if root is not None:
        walk(root, ())
    return data, lines
