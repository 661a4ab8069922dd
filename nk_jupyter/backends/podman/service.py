"""podman's API service, for podman-py: the user's own, or one of ours for a few seconds.

The user's service answers at $CONTAINER_HOST (unix://) or $XDG_RUNTIME_DIR/podman/podman.sock
when they run one (systemctl --user start podman.socket). Otherwise nk starts
`podman system service` on a socket in a private folder of its state root, uses it while a
lab is prepared, and stops it; `--time` makes it exit by itself soon after, should nk die first.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ...linux import spawn

START_TIMEOUT = 20.0
IDLE_EXIT = 10  # seconds: a service of ours left behind by a killed nk ends by itself


class ServiceError(Exception):
    pass


def _client(url: str):
    from podman import PodmanClient
    return PodmanClient(base_url=url, timeout=600)


def _answers(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # whatever podman-py or requests raise for a dead socket
        return False


class Service:
    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root
        self.proc: subprocess.Popen | None = None
        self.folder: str | None = None
        self.client = None

    def __enter__(self):
        for url in self._users():
            client = _client(url)
            if _answers(client):
                self.client = client
                return client
            client.close()
        self.client = self._start()
        return self.client

    @staticmethod
    def _users() -> list[str]:
        out = []
        host = os.environ.get("CONTAINER_HOST", "")
        if host.startswith("unix://"):
            out.append(host)
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if xdg and os.path.exists(f"{xdg}/podman/podman.sock"):
            out.append(f"unix://{xdg}/podman/podman.sock")
        return out

    def _start(self):
        self.state_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder = tempfile.mkdtemp(prefix=".podman-", dir=self.state_root)
        sock = f"{self.folder}/podman.sock"
        log = open(f"{self.folder}/log", "w+b")
        self.proc = subprocess.Popen([shutil.which("podman") or "podman", "system", "service", f"--time={IDLE_EXIT}",
                                      f"unix://{sock}"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)  # a Ctrl-C of the lab's start is not its
        client = _client(f"unix://{sock}")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(sock) and _answers(client):
                log.close()
                return client
            time.sleep(0.01)
        log.seek(0)
        said = log.read().decode(errors="replace").strip().splitlines()
        log.close()
        client.close()
        self._stop()
        raise ServiceError("the podman API service did not start"
                           + (f": {said[-1][:300]}" if said else f" within {START_TIMEOUT:g} s"))

    def _stop(self) -> None:
        if self.proc:
            spawn.stop(self.proc, grace=5)
            self.proc = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        self._stop()
