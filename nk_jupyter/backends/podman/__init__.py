"""The podman backend: machines on container images (lab.conf `r1[image]="kathara/frr"`).

podman supplies the images (the user's rootless podman, through podman-py); nk runs the
machines. An image machine is a namespace machine whose / is the image's files under its own
copy-on-write layer, so it has every lock and limit of docs/security.md, boots as fast as a
host-program machine and runs commands by entering its namespaces, as any machine.

    host half         prepare(): find or pull each image, mount it in podman's namespaces,
                      send a read-only copy of its tree to the supervisor (host.py, mounter.py)
    supervisor half   open(): attach the trees; machines are made by the namespace backend
                      on them (session.py)
"""
from __future__ import annotations

from .. import Context, PrepareRequest, Prepared


class PodmanBackend:
    name = "podman"

    def prepare(self, request: PrepareRequest) -> Prepared:
        from .host import prepare
        return prepare(request)

    def open(self, context: Context):
        from .session import PodmanSession
        return PodmanSession(context)


BACKEND = PodmanBackend()

__all__ = ["BACKEND", "PodmanBackend"]
