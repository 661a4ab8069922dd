"""The jupyter-server extension behind the JupyterLab "Labs" sidebar (labextension/).

Enabled by etc/jupyter/jupyter_server_config.d/nk_jupyter.json (installed with the wheel).
Every route is a JupyterHandler behind the server's own authentication (@authenticated: the
token or the hub's login; no port of its own). It speaks only through nk_jupyter.api, and it
takes names, never command text: a lab is named by its folder, which must be one of this
user's running labs (or, to start it again, one whose files nk keeps); a machine by a name
of that lab.

    GET  /nk/api/labs                      this user's running labs and their machines (state,
                                           image), and the halted labs whose files nk keeps
    POST /nk/api/labs/action               {directory, action: halt|crash|start, machine?}
                                           (start without a machine: a halted lab)
    GET  /nk/api/topology?directory=DIR    cytoscape.js style + elements + machine details
    POST /nk/api/terminals                 {directory, machine} -> {name} of a new terminal
                                           running `nk vconnect` into that machine
"""
from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .. import api
from ..errors import NkError
from . import graph

ACTIONS = ("halt", "crash", "start")


def _labs() -> dict[str, api.RunningLab]:
    return {str(r.directory): r for r in api.running_labs()}


def _running(directory: str) -> api.Lab:
    if not isinstance(directory, str) or directory not in _labs():
        raise web.HTTPError(404, "no such running lab")
    return api.Lab.attach(directory)


def _machine(lab: api.Lab, name) -> str:
    """A machine the running lab has (asked of its supervisor: lab.conf may not list one vstart made)."""
    if not isinstance(name, str) or name not in {m.name for m in lab.info()}:
        raise web.HTTPError(404, "no such machine in that lab")
    return name


def _body(handler) -> dict:
    try:
        body = json.loads(handler.request.body or b"{}")
    except ValueError:
        raise web.HTTPError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPError(400, "the body is not a JSON object")
    return body


def _nk_argv() -> list[str]:
    """How the terminal runs nk: the nk next to this Python, else on PATH."""
    here = Path(sys.executable).with_name("nk")
    return [str(here)] if here.exists() else [shutil.which("nk") or "nk"]


class LabsHandler(APIHandler):
    @web.authenticated
    def get(self):
        out = []
        for directory, running in sorted(_labs().items()):
            try:
                machines = [{"name": m.name, "state": m.state.value, "backend": m.backend, "image": m.image}
                            for m in api.Lab.attach(directory).info()]
            except NkError:
                continue  # it stopped meanwhile
            out.append({"directory": directory, "name": running.name, "text_lab": running.text_lab,
                        "started": running.started, "machines": sorted(machines, key=lambda m: m["name"])})
        halted = [{"directory": str(r.directory), "name": r.name} for r in api.halted_labs()]
        self.finish(json.dumps({"labs": out, "halted": sorted(halted, key=lambda h: h["name"])}))


class ActionHandler(APIHandler):
    @web.authenticated
    async def post(self):
        body = _body(self)
        action, machine = body.get("action"), body.get("machine")
        if action not in ACTIONS:
            raise web.HTTPError(400, f"action: one of {', '.join(ACTIONS)}")
        directory = body.get("directory")
        if action == "start" and machine is None:  # a halted lab, booted again where it was
            if not isinstance(directory, str) or directory not in {str(r.directory) for r in api.halted_labs()}:
                raise web.HTTPError(404, "no such halted lab")
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: api.Lab.from_dir(directory).start(fast=True))
            except NkError as e:
                raise web.HTTPError(409, str(e)) from None
            return self.finish(json.dumps({"ok": True}))
        lab = _running(directory)
        name = _machine(lab, machine) if machine is not None else None
        if action == "start" and name is None:
            raise web.HTTPError(400, "start: name a machine of the running lab")

        def act() -> None:  # a halt runs shutdown scripts: off the server's event loop
            if action == "halt":
                lab.halt([name] if name else None)
            elif action == "crash":
                lab.crash([name] if name else None)
            else:
                lab.start([name], fast=True)
        try:
            await asyncio.get_running_loop().run_in_executor(None, act)
        except NkError as e:
            raise web.HTTPError(409, str(e)) from None
        self.finish(json.dumps({"ok": True}))


class TopologyHandler(APIHandler):
    @web.authenticated
    def get(self):
        lab = _running(self.get_argument("directory", ""))
        try:
            topo = lab.topology()
        except NkError as e:
            raise web.HTTPError(409, str(e)) from None
        self.finish(json.dumps({"lab": topo.lab, "style": graph.STYLE, "elements": graph.elements(topo),
                                "details": {m.name: graph.machine_html(m) for m in topo.machines},
                                "height": graph.box_height(len(topo.machines))}))


class TerminalHandler(APIHandler):
    @web.authenticated
    def post(self):
        body = _body(self)
        lab = _running(body.get("directory"))
        machine = _machine(lab, body.get("machine"))
        manager = self.settings.get("terminal_manager")
        if manager is None:
            raise web.HTTPError(503, "this Jupyter server has no terminals (jupyter_server_terminals)")
        argv = _nk_argv() + ["vconnect", "-d", str(lab.directory), machine]
        model = manager.create(shell_command=argv, cwd=str(Path.home()))
        self.finish(json.dumps({"name": model["name"], "title": f"{machine} · {lab.model.name}"}))


def _jupyter_server_extension_points():
    return [{"module": "nk_jupyter.jupyter.server"}]


def _load_jupyter_server_extension(serverapp) -> None:
    web_app = serverapp.web_app
    base = url_path_join(web_app.settings["base_url"], "nk", "api")
    web_app.add_handlers(".*$", [
        (url_path_join(base, "labs"), LabsHandler),
        (url_path_join(base, "labs", "action"), ActionHandler),
        (url_path_join(base, "topology"), TopologyHandler),
        (url_path_join(base, "terminals"), TerminalHandler),
    ])
    serverapp.log.info("nk-jupyter: /nk/api (labs sidebar, machine terminals) loaded")


load_jupyter_server_extension = _load_jupyter_server_extension
