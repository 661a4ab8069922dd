"""The namespace backend: a machine is a set of Linux namespaces held by a tiny init, on the
host's programs (every part of its root copy-on-write) or on a container image's files.

    host half         prepare(): the user's template of host files (template.py)
    supervisor half   open(): the lab's sandbox and zygote (session.py); machines come from
                      the zygote (zygote.py) and live as initplan.py says; the engine holds
                      them as node.Node handles.

Run only inside the supervisor (root of the lab's user namespace, single-threaded). How a
machine's namespaces nest, and why machine root cannot reach the supervisor's, is in
initplan.py and docs/security.md.
"""
from __future__ import annotations

from .. import Context, PrepareRequest, Prepared


class NodeStartError(Exception):
    pass


class NamespaceBackend:
    name = "namespaces"

    def prepare(self, request: PrepareRequest) -> Prepared:
        from . import template
        tpl = template.ensure(request.host.state_root, request.host.remove_trees, request.host.in_use)
        return Prepared(conf={"template": str(tpl)}, machines=list(request.machines))

    def open(self, context: Context):
        from .session import NamespaceSession
        return NamespaceSession(context)


BACKEND = NamespaceBackend()

__all__ = ["BACKEND", "NamespaceBackend", "NodeStartError"]
