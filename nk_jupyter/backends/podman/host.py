"""The podman backend's host half: from the lab's image names to read-only trees of files.

Runs in the launcher, as the user, before the supervisor exists:
  1. podman's API service: the user's own if one answers, else one started for these few
     seconds (service.py) and stopped when done;
  2. each image through podman-py: here already (inspect: its id and environment), or pulled
     with progress (PullEvent);
  3. `podman unshare` running mounter.py (selfrun.py): each image mounted, copied as a detached read-only
     tree, unmounted; the copies come back as descriptors for the supervisor;
  4. each tree is checked for a shell (`/bin/sh`), since a machine's startup and commands run in one.

With policy "auto" a machine whose image cannot be had runs on the host's programs, with one
line saying why and how to get it; with "podman" that is an error naming machine and image.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from ...records import dataclass, field

from ... import selfrun, wire
from ...errors import HostSetupError, UserError
from ...linux import paths
from ...model.events import PullEvent
from ...model.images import canonical
from .. import PrepareRequest, Prepared
from .service import Service, ServiceError

MAX_IMAGES = 60          # distinct images per lab (one descriptor each in the handshake)
MOUNT_TIMEOUT = 120.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Image:
    ref: str                         # the full reference (model/images.canonical)
    machines: list[str]
    id: str = ""
    env: dict[str, str] = field(default_factory=dict)
    problem: str = ""                # why it cannot be had ("" when it can)


def prepare(request: PrepareRequest) -> Prepared:
    lab, policy = request.lab, request.policy
    emit = request.progress or (lambda event: None)
    images: dict[str, Image] = {}
    for name in request.machines:
        ref = canonical(lab.machines[name].options.image)
        images.setdefault(ref, Image(ref, [])).machines.append(name)
    if len(images) > MAX_IMAGES:
        raise UserError(f"{lab.directory}/lab.conf names {len(images)} different images; nk runs at most {MAX_IMAGES} per lab")

    def without(why: str, fix: str, which: list[Image]) -> Prepared:
        """No image machine can run on podman: an error (policy podman) or host programs (auto)."""
        names = ", ".join(m for image in which for m in image.machines)
        if policy == "podman":
            raise HostSetupError(f"machine(s) {names}: {why} ({fix}; or --images=host runs them on the host's programs)")
        return Prepared(warnings=[f"machine(s) {names} run on the host's programs, not their images: {why} ({fix})"])

    if not shutil.which("podman"):
        return without("podman is not installed", "sudo apt install podman", list(images.values()))
    try:
        with Service(request.host.state_root) as client:
            for image in images.values():
                _find(client, image, policy, emit)
    except ServiceError as e:
        return without(str(e), "check `podman info`", list(images.values()))
    prepared = Prepared(conf={"images": {}})
    ready: dict[str, list[Image]] = {}  # by image id: two names may be one image
    for image in images.values():
        if image.problem:
            prepared.warnings += without(image.problem, _how_to_get(image), [image]).warnings
        else:
            ready.setdefault(image.id, []).append(image)
    if not ready:
        return prepared
    trees = _trees([same[0] for same in ready.values()])
    try:
        for slot, (image_id, same) in enumerate(ready.items()):
            fd = trees[image_id]
            prepared.fds.append(fd)
            for image in same:
                _check_shell(fd, image)
                for name in image.machines:
                    prepared.conf["images"][name] = {"ref": image.ref, "id": image_id, "env": image.env, "slot": slot}
                    prepared.machines.append(name)
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise
    return prepared


def _how_to_get(image: Image) -> str:
    return f"get it with `podman pull {image.ref}`, or `podman load -i FILE` of a saved copy"


def _find(client, image: Image, policy: str, emit) -> None:
    """Fill in image.id and env from podman: the local copy, else a pull with progress."""
    from podman.errors import APIError, ImageNotFound
    try:
        if not client.images.exists(image.ref):
            _pull(client, image, emit)
            if image.problem:
                return
        found = client.images.get(image.ref)
    except ImageNotFound:
        image.problem = f"image {image.ref} is not here and could not be pulled"
        return
    except APIError as e:
        image.problem = f"podman refused image {image.ref}: {_api_error(e)}"
        return
    image.id = found.id
    config = found.attrs.get("Config") or {}
    for item in config.get("Env") or []:
        key, _, value = item.partition("=")
        if key:
            image.env[key] = value
    image.env.setdefault("PATH", DEFAULT_PATH)


def _pull(client, image: Image, emit) -> None:
    from podman.errors import APIError
    repo, _, tag = image.ref.rpartition(":") if "@" not in image.ref else (image.ref, "", "")
    if "/" in tag:  # a registry port, not a tag
        repo, tag = image.ref, ""
    emit(PullEvent(image=image.ref, text=f"pulling {image.ref} (for {', '.join(image.machines)})"))
    last = ""
    try:
        for line in client.images.pull(repo, tag=tag or None, stream=True, decode=True):
            if not isinstance(line, dict):
                continue
            if line.get("error"):
                last = str(line["error"]).strip()
                break
            text = (line.get("stream") or line.get("status") or "").strip()
            if text:
                emit(PullEvent(image=image.ref, text=text))
    except APIError as e:
        last = _api_error(e)
    if last:
        image.problem = f"image {image.ref} is not here and could not be pulled: {last.splitlines()[-1][:300]}"
    emit(PullEvent(image=image.ref, text="failed" if last else "pulled", done=True))


def _api_error(e) -> str:
    return str(getattr(e, "explanation", "") or e).strip()[:300]


def _trees(images: list[Image]) -> dict[str, int]:
    """Read-only detached trees of the images' files, by image id (mounter.py)."""
    ours, theirs = socket.socketpair()
    argv = ["podman", "unshare", *selfrun.argv("nk_jupyter.backends.podman.mounter", str(theirs.fileno()),
                                               *[image.id for image in images])]
    proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=selfrun.env(), cwd="/", start_new_session=True)
    theirs.close()
    trees: dict[str, int] = {}
    problems: list[str] = []
    ours.settimeout(MOUNT_TIMEOUT)
    try:
        for _ in images:
            msg, fds = wire.recv(ours)
            if msg.get("error") or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                problems.append(f"{msg.get('id', '?')[:12]}: {msg.get('error') or 'no tree came back'}")
            else:
                trees[str(msg.get("id"))] = fds[0]
    except (EOFError, OSError, wire.ProtocolError) as e:
        err = proc.stderr.read().decode(errors="replace").strip() if proc.poll() is not None else ""
        problems.append(err.splitlines()[-1] if err else str(e) or type(e).__name__)
    finally:
        ours.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    if problems:
        for fd in trees.values():
            os.close(fd)
        names = ", ".join(f"{image.ref} ({', '.join(image.machines)})" for image in images)
        raise HostSetupError(f"cannot mount the images {names} with `podman unshare`: {'; '.join(problems)}")
    return trees


def _check_shell(fd: int, image: Image) -> None:
    try:
        os.close(paths.openat2(fd, "bin/sh", os.O_PATH, resolve=paths.RESOLVE_IN_ROOT))
    except OSError:
        raise UserError(f"machine(s) {', '.join(image.machines)}: image {image.ref} has no /bin/sh; nk runs a "
                        "machine's startup and commands with its shell (use an image that has one, or "
                        "--images=host to run them on the host's programs)") from None
