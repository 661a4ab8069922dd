"""The wire protocol between clients (CLI, API, kernel) and a lab supervisor.

One framing for everything, RootlessKit's: a uint32 little-endian length, then a JSON
object. A request may carry file descriptors (SCM_RIGHTS) with its frame: `exec` passes
the command's stdin, stdout and stderr, so output flows straight to the caller with no
copy through the supervisor.

Requests are {"op": NAME, ...}. Replies are {"ok": true, ...} or
{"ok": false, "kind": ERROR_CLASS, "message": TEXT}. Long operations also send
{"event": NAME, ...} frames before their final reply.
"""
from __future__ import annotations

from ..wire import MAX_FDS, MAX_FRAME, ProtocolError, recv, send  # noqa: F401

API_VERSION = 1
