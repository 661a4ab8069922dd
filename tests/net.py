"""Small network helpers shared by the tests (and bench/uplinks.py)."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port of the host's 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
