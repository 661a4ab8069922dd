"""The podman backend inside the supervisor: image machines are namespace machines whose /
is an image's files.

Each image's tree arrives as a descriptor of a detached, read-only mount (host.py); it is
attached once under the lab's scratch space (STATE/mnt/.images/SLOT), in the supervisor's
mount namespace, where every machine init forked after sees it. A machine's root is then an
overlay: that tree below, the machine's own copy-on-write layer above, and nk's usual
/proc, /sys, /dev, /run, /tmp, /hostlab and /shared (backends/namespaces/initplan.py).
So an image machine has the same namespaces, limits and locks as any other; no container
runtime or podman process runs while the lab does.
"""
from __future__ import annotations

import os

from ...linux import mounts
from .. import Context, Handle, MachinePlan, Plug, Ready
from ..namespaces.session import ImageRoot


class PodmanSession:
    name = "podman"

    def __init__(self, context: Context) -> None:
        self.base = context.sessions["namespaces"]  # machines are made there, on these roots
        where = self.base.sandbox.scratch / ".images"
        where.mkdir(mode=0o700, exist_ok=True)
        trees = []
        try:
            for slot, fd in enumerate(context.fds):
                target = where / str(slot)
                target.mkdir()
                mounts.attach(fd, str(target))
                trees.append(str(target))
        finally:
            for fd in context.fds:
                os.close(fd)
        self.roots = {name: ImageRoot(lower=trees[image["slot"]], env=dict(image["env"]), key=image["id"])
                      for name, image in context.conf["images"].items()}

    def create(self, plans: list[MachinePlan], plug: Plug, ready: Ready | None = None
               ) -> list[tuple[MachinePlan, Handle | str]]:
        return self.base.create(plans, plug, roots=self.roots, ready=ready)

    def stopped(self, name: str, keep: bool) -> list[str]:
        return self.base.stopped(name, keep)

    def close(self) -> None:
        pass
