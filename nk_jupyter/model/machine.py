"""A lab machine (a Netkit "virtual host", a Kathara "device") and its options."""
from __future__ import annotations

from ..records import dataclass, field
from pathlib import Path


@dataclass
class Interface:
    """Interface ethN of a machine, attached to the collision domain `link`.

    mac is the address given in lab.conf (Kathara `A/aa:bb:..`), lower-case, or None:
    the engine then uses Netkit's deterministic address (model.macs.netkit_mac).
    """

    number: int
    link: str
    mac: str | None = None

    @property
    def name(self) -> str:
        return f"eth{self.number}"


@dataclass
class MachineOptions:
    """Per-machine options from lab.conf (`pc1[mem]=64`) and `-o` overrides.

    - mem: normalised to `<n><b|k|m|g>` ("64m"); a bare number means megabytes.
    - pids: the most processes and threads the machine may have at once (engine default 1024).
    - ports: published ports, model/uplinks.PortSpec (Kathara defaults: host 3000, tcp).
    - taps: Netkit tap interfaces by number (model/uplinks.TapSpec): uplinks, not domains.
    - shapes: link shaping of interfaces by number (model/shaping.Shape).
    - other: options kept verbatim (Netkit's con0, append, D ... and unknown ones).
    - unsupported: names of options given that the engine does not implement yet.
    """

    mem: str | None = None
    cpus: float | None = None
    image: str | None = None
    exec_commands: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    shell: str | None = None
    ipv6: bool | None = None
    bridged: bool = False
    ports: list = field(default_factory=list)      # [PortSpec]
    taps: dict = field(default_factory=dict)       # {ifnum: TapSpec}
    shapes: dict = field(default_factory=dict)     # {ifnum: Shape}
    num_terms: int | None = None
    pids: int | None = None
    other: dict[str, str] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)


@dataclass
class Machine:
    """A machine: its interfaces by number, its options and its folder (None if absent)."""

    name: str
    interfaces: dict[int, Interface] = field(default_factory=dict)
    options: MachineOptions = field(default_factory=MachineOptions)
    folder: Path | None = None

    @staticmethod
    def ifname(n: int) -> str:
        """The in-machine name of interface number n."""
        return f"eth{n}"
