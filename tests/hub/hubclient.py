"""Driving a real JupyterHub (deploy/jupyterhub) from Python: the hub process, its REST API,
a student's login (a token made by the admin service), their server, and an nk-lab kernel on
it over the kernel websocket, as JupyterLab speaks it. Used by tests/hub and bench/hub_load.py.
All traffic is on 127.0.0.1."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from ..net import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
if not CONFIG.exists():
    CONFIG = Path("/opt/nk-src/deploy/jupyterhub/jupyterhub_config.py")
VENV = Path(os.environ.get("NK_VENV", "/opt/nk-venv"))


class Hub:
    def __init__(self, data: Path, **settings: str) -> None:
        self.data = data
        self.port, self.token = free_port(), secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "NK_HUB_BIND": self.base, "NK_HUB_DATA": str(data), "NK_HUB_API_TOKEN": self.token,
               **settings}
        env.pop("JUPYTER_PATH", None)
        self.log = open(data.parent / "hub.log", "wb")
        self.proc = subprocess.Popen([str(VENV / "bin" / "jupyterhub"), "-f", str(CONFIG),
                                      f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}"],
                                     cwd=data, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if self.api("GET", "/hub/api/")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise RuntimeError("the hub did not start:\n" + (data.parent / "hub.log").read_text()[-3000:])

    def api(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {token or self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else {})
        except urllib.error.HTTPError as e:
            return e.code, {"error": e.read().decode(errors="replace")[:500]}

    def stop(self) -> None:
        """Stop the hub (it stops its proxy, which runs in a session of its own)."""
        os.killpg(self.proc.pid, 15)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.log.close()


def login(hub: Hub, user: str) -> str:
    """The student's session: the hub user and a token of theirs (what a browser login gives)."""
    hub.api("POST", f"/hub/api/users/{user}")
    status, made = hub.api("POST", f"/hub/api/users/{user}/tokens", {"expires_in": 3600, "note": "test login"})
    assert status in (200, 201), made
    return made["token"]


def start_server(hub: Hub, user: str, token: str) -> None:
    status, said = hub.api("POST", f"/hub/api/users/{user}/server", token=token)
    assert status in (201, 202), said
    end = time.monotonic() + 120
    while time.monotonic() < end:
        _, model = hub.api("GET", f"/hub/api/users/{user}", token=token)
        server = (model.get("servers") or {}).get("")
        if server and server.get("ready"):
            return
        time.sleep(0.5)
    raise AssertionError(f"{user}'s server did not start")


class Kernel:
    """An nk-lab kernel on a student's server, driven over its websocket (the kernel protocol
    as JupyterLab speaks it). Labs it starts live as long as it does."""

    def __init__(self, hub: Hub, user: str, token: str) -> None:
        self.hub, self.user, self.token = hub, user, token
        status, kernel = hub.api("POST", f"/user/{user}/api/kernels", {"name": "nk-lab"}, token=token)
        assert status == 201, kernel
        self.id = kernel["id"]

    def run(self, code: str, timeout: float = 180) -> str:
        from tornado import httpclient, ioloop, websocket
        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.user}/api/kernels/{self.id}/channels"

        async def talk() -> str:
            ws = await websocket.websocket_connect(
                httpclient.HTTPRequest(url, headers={"Authorization": f"token {self.token}"}))
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "username": self.user, "session": uuid.uuid4().hex,
                           "msg_type": "execute_request", "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            out: list[str] = []
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                raw = await ws.read_message()
                if raw is None:
                    break
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    out.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
            ws.close()
            return "".join(out)
        return ioloop.IOLoop(make_current=False).run_sync(talk)

    def close(self) -> None:
        self.hub.api("DELETE", f"/user/{self.user}/api/kernels/{self.id}", token=self.token)


def labs_of(hub: Hub, user: str, token: str) -> list[dict]:
    status, listed = hub.api("GET", f"/user/{user}/nk/api/labs", token=token)
    assert status == 200, listed
    return listed["labs"]
