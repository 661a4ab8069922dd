"""The topology drawing, as data: cytoscape.js style and elements, the details of a machine.

Shared by the cell widget (widget.py, through ipycytoscape) and the JupyterLab topology
panel (server.py sends the same style and elements to cytoscape.js), so both look alike.
Machines and collision domains are nodes; each interface is an edge from its machine to
its domain, labelled along the edge with the interface and its addresses. Routers (more
than one interface) are blue rounded squares, hosts light circles, domains grey diamonds.
"""
from __future__ import annotations

import html

from ..model.topology import InterfaceView, MachineView, Topology
from ..model.states import MachineState
from .layout import positions

PROTOCOLS = {2: "kernel", 3: "boot", 4: "static", 11: "zebra", 16: "dhcp", 186: "bgp", 187: "isis",
             188: "ospf", 189: "rip", 196: "static"}
STYLE = [
    {"selector": "node", "style": {"label": "data(label)", "font-size": 12, "text-valign": "bottom",
                                   "text-margin-y": 4, "text-wrap": "wrap", "color": "#24292f"}},
    {"selector": "node.machine", "style": {"width": 34, "height": 34, "border-width": 3, "border-color": "#8c959f"}},
    {"selector": "node.router", "style": {"shape": "round-rectangle", "background-color": "#0969da",
                                          "width": 42, "height": 30}},
    {"selector": "node.host", "style": {"shape": "ellipse", "background-color": "#9fd4ff"}},
    {"selector": "node.domain", "style": {"shape": "diamond", "width": 16, "height": 16, "font-size": 10,
                                          "background-color": "#6e7781", "color": "#57606a"}},
    {"selector": "node.running", "style": {"border-color": "#1a7f37"}},
    {"selector": "node.booting, node.created, node.halting", "style": {"border-color": "#d4a72c",
                                                                        "border-style": "dashed"}},
    {"selector": "node.halted, node.defined", "style": {"background-opacity": 0.35}},
    {"selector": "node.crashed, node.failed", "style": {"border-color": "#cf222e", "background-color": "#ffcecb"}},
    {"selector": ".gone", "style": {"display": "none"}},
    {"selector": "edge", "style": {"width": 2, "line-color": "#afb8c1", "label": "data(label)",
                                   "font-size": 9, "text-wrap": "wrap", "text-rotation": "autorotate",
                                   "text-margin-y": -9, "color": "#424a53", "text-background-color": "#ffffff",
                                   "text-background-opacity": 0.9, "text-background-padding": 1}},
]
PANEL_HINT = "<i style='color:#57606a'>Click a machine to see its interfaces and routes.</i>"


def machine_id(name: str) -> str:
    return f"m:{name}"


def domain_id(name: str) -> str:
    return f"d:{name}"


def edge_id(machine: str, iface: InterfaceView) -> str:
    return f"e:{machine}:{iface.name}:{iface.domain}"


def _set_classes(element, classes: str) -> None:
    if element.classes != classes:
        element.classes = classes


def edge_label(iface: InterfaceView) -> str:
    return "\n".join([iface.name] + list(iface.addresses))


def box_height(machines: int) -> str:
    """How tall the drawing is: readable for 3, 10 and 40 machines."""
    return f"{min(640, max(360, 240 + 12 * machines))}px"


def classes(machine: MachineView) -> str:
    return f"machine {'router' if machine.router else 'host'} {machine.state.value}"


def label(machine: MachineView) -> str:
    return machine.name if machine.state == MachineState.RUNNING else f"{machine.name}\n({machine.state.value})"


def elements(topo: Topology) -> list[dict]:
    """cytoscape.js elements (nodes with preset positions, then edges) for a topology."""
    ids = [machine_id(m.name) for m in topo.machines] + [domain_id(d.name) for d in topo.domains]
    links = [(machine_id(m.name), domain_id(i.domain)) for m in topo.machines for i in m.interfaces]
    pos = positions(ids, links)
    out = [{"group": "nodes", "data": {"id": machine_id(m.name), "label": label(m), "machine": m.name},
            "classes": classes(m), "position": _xy(pos[machine_id(m.name)])} for m in topo.machines]
    out += [{"group": "nodes", "data": {"id": domain_id(d.name), "label": d.name}, "classes": "domain",
             "position": _xy(pos[domain_id(d.name)])} for d in topo.domains]
    out += [{"group": "edges", "data": {"id": edge_id(m.name, i), "source": machine_id(m.name),
                                        "target": domain_id(i.domain), "label": edge_label(i)}}
            for m in topo.machines for i in m.interfaces]
    return out


def _xy(p: tuple[float, float]) -> dict:
    return {"x": p[0], "y": p[1]}


def machine_html(m: MachineView) -> str:
    """The details panel for one machine: interfaces and routes."""
    esc = html.escape
    kind = "router" if m.router else "host"
    rows = "".join(f"<tr><td>{esc(i.name)}</td><td>{esc(i.domain)}</td>"
                   f"<td>{'<br>'.join(esc(a) for a in i.addresses) or '-'}"
                   f"<br><code style='font-size:11px'>{esc(i.mac)}</code></td></tr>"
                   for i in m.interfaces)
    routes = "".join(f"<tr><td>{esc(r.dst)}</td><td>{esc(r.gateway or '')}</td><td>{esc(r.dev or '')}</td>"
                     f"<td>{esc(PROTOCOLS.get(r.proto, str(r.proto)))}</td></tr>"
                     for r in m.routes)
    if m.left_out:
        routes += f"<tr><td colspan=4>(and {m.left_out} more links, addresses or routes, not read)</td></tr>"
    image = f", image {esc(m.image)}" if m.image else ""
    return (f"<div class='nk-details' style='font-size:12px;line-height:1.3'>"
            f"<b>{esc(m.name)}</b> ({kind}, {esc(m.state.value)}{image})"
            f"<table><tr><th>if</th><th>domain</th><th>addresses, MAC</th></tr>{rows}</table>"
            f"<b>Routes</b><table><tr><th>destination</th><th>via</th><th>dev</th><th>proto</th></tr>"
            f"{routes or '<tr><td colspan=4>(none, or not running)</td></tr>'}</table></div>")
