"""The lab as pure data: Lab, Machine, Interface, Link, MachineOptions. No I/O here."""
from __future__ import annotations

from nk_jupyter.model.lab import Lab
from nk_jupyter.model.link import Link
from nk_jupyter.model.machine import Interface, Machine, MachineOptions

__all__ = ["Lab", "Machine", "Interface", "Link", "MachineOptions"]
