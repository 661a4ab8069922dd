"""A collision domain: the set of machine interfaces that share one hub segment."""
from __future__ import annotations

from ..records import dataclass, field


@dataclass
class Link:
    """A collision domain named in lab.conf (`pc1[0]=A` attaches pc1's eth0 to `A`).

    attachments lists (machine, interface number) pairs in lab boot order.
    """

    name: str
    attachments: list[tuple[str, int]] = field(default_factory=list)

    @property
    def machines(self) -> list[str]:
        """Names of the machines on this domain, in attachment order, without repeats."""
        return list(dict.fromkeys(m for m, _ in self.attachments))
