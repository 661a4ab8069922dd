"""Container image names as lab.conf writes them (`r1[image]="kathara/frr"`).

A name is read as Docker reads it, because Kathara labs were written for Docker: a name
with no registry is on docker.io, a name with no tag or digest is `:latest`. So
`kathara/frr` is `docker.io/kathara/frr:latest` and `debian` is `docker.io/library/debian:latest`,
whatever the user's registries.conf says about short names.
"""
from __future__ import annotations

import re

from ..text import LazyPattern

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?"
_REFERENCE = LazyPattern(rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
                         r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[a-z0-9]+:[a-f0-9]{32,}))?", re.ASCII)


# --images: what a machine with image= runs on
IMAGE_POLICIES = {
    "auto": "podman when podman is installed and the image is here or can be pulled; else host programs, with a note",
    "podman": "podman; a missing image (or podman) is an error naming it",
    "host": "the host's programs; images are ignored",
}


class ImageNameError(ValueError):
    pass


def canonical(name: str) -> str:
    """The full reference of an image name (docker.io and :latest filled in); ImageNameError
    saying what is wrong otherwise."""
    text = name.strip()
    m = _REFERENCE.fullmatch(text)
    if not m or len(text) > 255:
        hint = " (image names are lower case)" if text.lower() != text and _REFERENCE.fullmatch(text.lower()) else ""
        raise ImageNameError(f"{name!r} is not an image name{hint}; e.g. kathara/frr, "
                             "docker.io/library/debian:12, localhost/myimage:1")
    domain, path = m.group("domain"), m.group("path")
    if domain and "." not in domain and ":" not in domain and domain != "localhost":
        domain, path = None, f"{domain}/{path}"  # `kathara/frr`: the first part is a path, not a host
    if not domain:
        domain = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    out = f"{domain}/{path}"
    if m.group("tag"):
        out += f":{m.group('tag')}"
    elif not m.group("digest"):
        out += ":latest"
    if m.group("digest"):
        out += f"@{m.group('digest')}"
    return out


__all__ = ["canonical", "ImageNameError", "IMAGE_POLICIES"]
