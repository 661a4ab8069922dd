"""TopologyView: the live lab graph, beside a panel with the clicked machine's details.

The only module that knows ipycytoscape (1.3.3, unmaintained: see docs/jupyter.md);
replacing it means rewriting this file only. Public surface:

    view = TopologyView(lab.topology(), details=lab_topology_function)
    display(view)                        # graph + details panel
    view.set_state("pc1", "running")     # in place: no redraw, no relayout
    view.update(lab.topology())          # states, addresses, links added or removed
    view.select("r1")                    # what a click on r1 does

Machines and collision domains are nodes; each interface is an edge from its machine to
its domain, labelled with the interface name and addresses. Routers (more than one
interface) are blue rounded squares, hosts light circles, domains small grey diamonds.
Positions come from layout.positions (deterministic, "preset" layout).
"""
from __future__ import annotations

import html
import threading
from typing import Callable

from ..api import Topology
from ..model.states import MachineState
from ..model.topology import InterfaceView, MachineView
from .layout import place_near, positions

from . import graph
from .graph import (PANEL_HINT, STYLE, _set_classes, box_height, domain_id, edge_id, edge_label, machine_html,
                    machine_id)

REFIT_AFTER = (0.8, 2.5)


class TopologyView:
    """An ipycytoscape graph of a lab's topology plus a details panel; updated in place."""

    def __init__(self, topology: Topology, details: Callable[[], Topology] | None = None, height: str | None = None,
                 capture: Callable[[str, int], object] | None = None) -> None:
        import ipycytoscape
        import ipywidgets
        self._lock = threading.RLock()
        self.details = details
        self.topology = topology
        self.cyto = ipycytoscape.CytoscapeWidget()
        self.cyto.set_style(STYLE)
        self.cyto.set_layout(name="preset", fit=True, padding=28, animate=False)
        self.cyto.max_zoom = 1.4  # a two-machine lab must not be zoomed to giant nodes
        self.cyto.min_zoom = 0.3
        # the graph over the whole width of the cell, as tall as the lab needs; the details
        # of a clicked machine below it (beside it, the graph was squeezed and clipped)
        height = height or box_height(len(topology.machines))
        self.cyto.layout.height = height
        self.cyto.layout.width = "100%"
        self.panel = ipywidgets.HTML(PANEL_HINT, layout=ipywidgets.Layout(overflow="auto", max_height="320px",
                                                                             padding="4px 0 0 4px"))
        # a click on a collision domain offers a capture of it (Lab.capture), shown below
        self.capture = capture
        self.capture_button = ipywidgets.Button(description="Capture 10 frames", icon="eye",
                                                layout=ipywidgets.Layout(display="none", width="auto"))
        self.capture_button.on_click(lambda _b: self._capture())
        self.frames = ipywidgets.HTML("", layout=ipywidgets.Layout(overflow="auto", max_height="260px"))
        self.domain: str | None = None
        self.box = ipywidgets.VBox([self.cyto, self.panel, self.capture_button, self.frames],
                                   layout=ipywidgets.Layout(width="100%"))
        self.nodes: dict[str, object] = {}
        self.edges: dict[str, object] = {}
        self.selected: str | None = None
        self._build(topology)
        self.cyto.on("node", "click", self._clicked)
        # The front end fits the graph before its labels are measured, so the first fit
        # can be too wide; fit again once the view has been drawn (no-op without a view).
        for delay in REFIT_AFTER:
            timer = threading.Timer(delay, self.refit)
            timer.daemon = True
            timer.start()

    def refit(self) -> None:
        """Re-run the preset layout in the front end: same positions, fitted to the box."""
        with self._lock:
            self.cyto.relayout()

    # -- building -----------------------------------------------------------------
    def _node(self, nid: str, label: str, classes: str, pos: tuple[float, float]):
        import ipycytoscape
        node = ipycytoscape.Node(data={"id": nid, "label": label}, classes=classes,
                                 position={"x": pos[0], "y": pos[1]})
        self.nodes[nid] = node
        return node

    def _edge(self, machine: str, iface: InterfaceView):
        import ipycytoscape
        eid = edge_id(machine, iface)
        edge = ipycytoscape.Edge(data={"id": eid, "source": machine_id(machine), "target": domain_id(iface.domain),
                                       "label": edge_label(iface)})
        self.edges[eid] = edge
        return edge

    def _build(self, topo: Topology) -> None:
        ids = [machine_id(m.name) for m in topo.machines] + [domain_id(d.name) for d in topo.domains]
        links = [(machine_id(m.name), domain_id(i.domain)) for m in topo.machines for i in m.interfaces]
        pos = positions(ids, links)
        nodes = [self._node(machine_id(m.name), self._label(m), self._classes(m), pos[machine_id(m.name)])
                 for m in topo.machines]
        nodes += [self._node(domain_id(d.name), d.name, "domain", pos[domain_id(d.name)]) for d in topo.domains]
        self.cyto.graph.add_nodes(nodes)
        self.cyto.graph.add_edges([self._edge(m.name, i) for m in topo.machines for i in m.interfaces],
                                  multiple_edges=True)

    _classes = staticmethod(graph.classes)
    _label = staticmethod(graph.label)

    # -- live updates -------------------------------------------------------------
    def set_state(self, machine: str, state: MachineState | str) -> None:
        """Show a machine's new state (colour and label) without redrawing."""
        with self._lock:
            node = self.nodes.get(machine_id(machine))
            if node is None:
                return
            for m in self.topology.machines:
                if m.name == machine:
                    m.state = MachineState(state)
                    self._apply_machine(node, m)
            if self.selected == machine:
                self._show(machine)

    def _apply_machine(self, node, m: MachineView) -> None:
        classes, label = self._classes(m), self._label(m)
        if node.classes != classes:
            node.classes = classes
        if node.data.get("label") != label:
            node.data = {**node.data, "label": label}

    def update(self, topo: Topology) -> None:
        """Apply a fresh lab.topology(): states, addresses, and added or removed links.

        Elements are only ever appended to the graph, never taken out of its lists: the
        ipycytoscape front end re-creates every element after a removed one, and loses
        some on the way. An unplugged link (or an unused domain) is hidden instead
        (class "gone"), and shown again when it comes back.
        """
        with self._lock:
            self.topology = topo
            taken = [(n.position.get("x", 0), n.position.get("y", 0)) for n in self.nodes.values()]
            used = {domain_id(d.name) for d in topo.domains}
            for d in topo.domains:
                if domain_id(d.name) not in self.nodes:
                    self._add_node(domain_id(d.name), d.name, "domain", [], taken)
            for nid, node in self.nodes.items():
                if nid.startswith("d:"):
                    _set_classes(node, "domain" if nid in used else "domain gone")
            wanted: set[str] = set()
            for m in topo.machines:
                nid = machine_id(m.name)
                near = [self._pos(domain_id(i.domain)) for i in m.interfaces]
                node = self.nodes.get(nid) or self._add_node(nid, self._label(m), self._classes(m), near, taken)
                self._apply_machine(node, m)
                for iface in m.interfaces:
                    eid = edge_id(m.name, iface)
                    wanted.add(eid)
                    edge = self.edges.get(eid)
                    if edge is None:
                        self.cyto.graph.add_edge(self._edge(m.name, iface), multiple_edges=True)
                    elif edge.data.get("label") != edge_label(iface):
                        edge.data = {**edge.data, "label": edge_label(iface)}
            for eid, edge in self.edges.items():
                _set_classes(edge, "" if eid in wanted else "gone")
            if self.selected:
                self._show(self.selected)

    def _pos(self, nid: str) -> tuple[float, float]:
        node = self.nodes.get(nid)
        return (node.position.get("x", 0), node.position.get("y", 0)) if node is not None else (0.0, 0.0)

    def _add_node(self, nid: str, label: str, classes: str, near: list, taken: list):
        pos = place_near([p for p in near if p != (0.0, 0.0)], taken)
        taken.append(pos)
        node = self._node(nid, label, classes, pos)
        self.cyto.graph.add_node(node)
        return node

    # -- the details panel --------------------------------------------------------
    def _clicked(self, element: dict) -> None:
        nid = (element.get("data") or {}).get("id", "")
        if nid.startswith("m:"):
            self.select(nid[2:])
        elif nid.startswith("d:"):
            self.select_domain(nid[2:])

    def select_domain(self, domain: str) -> None:
        """Show a collision domain's members, and (running lab) offer to capture it."""
        self.selected, self.domain = None, domain
        members = next((d.members for d in self.topology.domains if d.name == domain), [])
        self.panel.value = (f"<div class='nk-details' style='font-size:12px'><b>{html.escape(domain)}</b> "
                            f"(collision domain): {html.escape(', '.join(members)) or 'no interfaces'}</div>")
        self.capture_button.description = f"Capture 10 frames on {domain}"
        self.capture_button.layout.display = "" if self.capture is not None else "none"

    def _capture(self) -> None:
        """Capture 10 frames of the selected domain in a thread; lines appear as they come."""
        domain, capture = self.domain, self.capture
        if domain is None or capture is None:
            return
        self.frames.value = f"<pre style='font-size:11px'>capturing on {html.escape(domain)}…</pre>"

        def run() -> None:
            lines: list[str] = []
            try:
                for line in capture(domain, 10):
                    lines.append(line)
                    self.frames.value = "<pre style='font-size:11px'>" + html.escape("\n".join(lines)) + "</pre>"
            except Exception as e:  # the lab stopped meanwhile
                lines.append(f"(capture ended: {e})")
            self.frames.value = ("<pre style='font-size:11px'>" + html.escape("\n".join(lines))
                                 + f"\n({len([x for x in lines if not x.startswith('(')])} frames)</pre>")
        threading.Thread(target=run, daemon=True, name="nk-capture").start()

    def select(self, machine: str) -> None:
        """Show machine's interfaces and routes in the panel (fresh from the lab if running)."""
        self.selected = machine
        if self.details is not None:
            try:
                self.topology = self.details()
            except Exception:  # a stopped lab: keep the last known topology
                pass
        self._show(machine)

    def _show(self, machine: str) -> None:
        m = self.topology.machine(machine)
        self.panel.value = PANEL_HINT if m is None else machine_html(m)

    # -- display --------------------------------------------------------------------
    def summary(self) -> str:
        ms = self.topology.machines
        routers = sum(1 for m in ms if m.router)
        domains = len(self.topology.domains)
        return (f"Topology of lab {self.topology.lab!r}: {_n(len(ms), 'machine')} "
                f"({_n(routers, 'router')}), {_n(domains, 'collision domain')}")

    def __repr__(self) -> str:
        return self.summary()

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["text/plain"] = self.summary()
        return bundle

    def classes_of(self, machine: str) -> str:
        node = self.nodes.get(machine_id(machine))
        return node.classes if node is not None else ""


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
