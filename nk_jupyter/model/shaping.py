"""Link shaping (Mininet's TCLink), applied on the hub side of an interface where the machine
cannot undo it.

lab.conf: `pc1[shape]="eth0 rate=10mbit loss=1%"` (repeatable, one per interface); at run
time `nk vshape`, `Lab.shape()`, `%vshape` also take a whole collision domain.

    rate=N[kbit|mbit|gbit]  both directions (tbf towards the machine, a policer from it)
    loss=P%                 random drop, both directions (nftables on the hub's bridge)
    delay=Tms jitter=Tms    needs the kernel's netem (sch_netem)
"""
from __future__ import annotations

import re
from ..records import dataclass
from ..text import LazyPattern

_RATE = LazyPattern(r"([0-9]{1,12}(?:\.[0-9]{1,6})?)(bit|kbit|mbit|gbit)?", re.I | re.A)
_UNITS = {"bit": 1, "kbit": 1000, "mbit": 1000 ** 2, "gbit": 1000 ** 3}
_TIME = LazyPattern(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)(us|ms|s)?", re.A)


class ShapeError(ValueError):
    pass


@dataclass(frozen=True)
class Shape:
    rate_bps: int = 0          # 0: no limit
    loss_pct: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.rate_bps or self.loss_pct or self.delay_ms or self.jitter_ms)

    @classmethod
    def parse(cls, words: list[str]) -> "Shape":
        """["rate=10mbit", "loss=1%"] -> Shape; ShapeError naming the word otherwise."""
        out = {}
        for word in words:
            key, eq, value = word.partition("=")
            if not eq or not value:
                raise ShapeError(f"expected KEY=VALUE (rate, loss, delay, jitter), not {word!r}")
            key = key.lower()
            if key == "rate":
                m = _RATE.fullmatch(value)
                if not m:
                    raise ShapeError(f"rate={value}: expected e.g. 10mbit, 512kbit, 1gbit")
                out["rate_bps"] = int(float(m.group(1)) * _UNITS[(m.group(2) or "bit").lower()])
                if not 8000 <= out["rate_bps"] <= 32 * 1000 ** 3:
                    raise ShapeError(f"rate={value}: use 8kbit to 32gbit")
            elif key == "loss":
                try:
                    out["loss_pct"] = float(value.rstrip("%"))
                except ValueError:
                    raise ShapeError(f"loss={value}: expected a percentage, e.g. 1%") from None
                if not 0 <= out["loss_pct"] <= 100:
                    raise ShapeError(f"loss={value}: use 0% to 100%")
            elif key in ("delay", "jitter"):
                m = _TIME.fullmatch(value)
                if not m:
                    raise ShapeError(f"{key}={value}: expected e.g. 20ms")
                scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2) or "ms"]
                out[f"{key}_ms"] = float(m.group(1)) * scale
                if out[f"{key}_ms"] > 60000:
                    raise ShapeError(f"{key}={value}: at most 60s")
            else:
                raise ShapeError(f"unknown shaping key {key!r}: use rate, loss, delay, jitter")
        return cls(**out)

    def __str__(self) -> str:
        parts = []
        if self.rate_bps:
            parts.append(f"rate={_human_rate(self.rate_bps)}")
        if self.loss_pct:
            parts.append(f"loss={self.loss_pct:g}%")
        if self.delay_ms:
            parts.append(f"delay={self.delay_ms:g}ms")
        if self.jitter_ms:
            parts.append(f"jitter={self.jitter_ms:g}ms")
        return " ".join(parts) or "none"


def _human_rate(bps: int) -> str:
    for unit in ("gbit", "mbit", "kbit"):
        if bps % _UNITS[unit] == 0:
            return f"{bps // _UNITS[unit]}{unit}"
    return f"{bps}bit"


def parse_option(value: str) -> tuple[int, Shape]:
    """lab.conf's `ethN KEY=VALUE ...` -> (N, Shape)."""
    words = value.split()
    if not words or not re.fullmatch(r"eth[0-9]+", words[0]):
        raise ShapeError(f"expected 'ethN rate=... loss=...', not {value!r}")
    return int(words[0][3:]), Shape.parse(words[1:])


__all__ = ["Shape", "ShapeError", "parse_option"]
