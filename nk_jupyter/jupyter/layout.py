"""Deterministic positions for the topology graph (the same lab always looks the same).

Nodes are machines and collision domains; edges join a machine to the domain of each of
its interfaces. The layout is a Fruchterman-Reingold spring layout with no randomness:
nodes start on a circle in breadth-first order from the first machine by name, and a
fixed number of cooling steps follows (fewer for bigger labs: each step costs the square of
their size, and a view is drawn in the kernel while the cell waits). Big labs (more than
LARGE nodes) get a grid in the same order instead.

positions(nodes, edges) -> {node id: (x, y)} in pixels, inside a WIDTH x HEIGHT box, with
links about EDGE pixels long (so a small lab is not blown up to fill the box).
"""
from __future__ import annotations

import math
from collections import deque

WIDTH, HEIGHT = 640.0, 400.0
ITERATIONS = 250
PAIR_STEPS = 350_000  # node pairs x steps of a layout: ~0.1 s of Python here (250 steps up to ~50 nodes)
MIN_ITERATIONS = 30
LARGE = 150
EDGE = 130.0
MIN_GAP = 62.0  # pixels between node centres: a machine with its name below it


def bfs_order(nodes: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """nodes in breadth-first order (components one after the other, names sorted)."""
    adj: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a in adj and b in adj:
            adj[a].append(b)
            adj[b].append(a)
    seen: set[str] = set()
    order: list[str] = []
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        todo = deque([start])
        while todo:
            n = todo.popleft()
            order.append(n)
            for m in sorted(adj[n]):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
    return order


def _grid(order: list[str]) -> dict[str, tuple[float, float]]:
    cols = max(1, math.ceil(math.sqrt(len(order) * WIDTH / HEIGHT)))
    step = WIDTH / cols
    return {n: ((i % cols) * step, (i // cols) * step) for i, n in enumerate(order)}


def _springs(order: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    n = len(order)
    index = {name: i for i, name in enumerate(order)}
    pairs = [(index[a], index[b]) for a, b in edges if a in index and b in index]
    xs = [math.cos(2 * math.pi * i / n) * WIDTH / 2 for i in range(n)]
    ys = [math.sin(2 * math.pi * i / n) * HEIGHT / 2 for i in range(n)]
    k = math.sqrt(WIDTH * HEIGHT / n) * 0.6
    temperature = WIDTH / 8
    steps = max(MIN_ITERATIONS, min(ITERATIONS, PAIR_STEPS * 2 // (n * (n - 1))))
    cooling = 0.97 ** (ITERATIONS / steps)  # the same cooling over fewer steps
    for _step in range(steps):
        dx = [0.0] * n
        dy = [0.0] * n
        for i in range(n):
            for j in range(i + 1, n):
                ddx, ddy = xs[i] - xs[j], ys[i] - ys[j]
                dist = math.hypot(ddx, ddy) or 0.01
                force = k * k / dist
                dx[i] += ddx / dist * force
                dy[i] += ddy / dist * force
                dx[j] -= ddx / dist * force
                dy[j] -= ddy / dist * force
        for i, j in pairs:
            ddx, ddy = xs[i] - xs[j], ys[i] - ys[j]
            dist = math.hypot(ddx, ddy) or 0.01
            force = dist * dist / k
            dx[i] -= ddx / dist * force
            dy[i] -= ddy / dist * force
            dx[j] += ddx / dist * force
            dy[j] += ddy / dist * force
        for i in range(n):
            d = math.hypot(dx[i], dy[i]) or 0.01
            xs[i] += dx[i] / d * min(d, temperature)
            ys[i] += dy[i] / d * min(d, temperature)
        temperature = max(1.0, temperature * cooling)
    return {name: (xs[i], ys[i]) for i, name in enumerate(order)}


def _fit(pos: dict[str, tuple[float, float]], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Scale into the box (keeping proportions), links about EDGE long at most; rounded."""
    if not pos:
        return {}
    pos = _landscape(pos)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    span = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
    scale = min(WIDTH / span[0], HEIGHT / span[1], 3.0)
    lengths = [math.dist(pos[a], pos[b]) for a, b in edges if a in pos and b in pos]
    if lengths:
        scale = min(scale, EDGE / (sum(lengths) / len(lengths)))
    return {n: (round((x - min(xs)) * scale, 1), round((y - min(ys)) * scale, 1)) for n, (x, y) in pos.items()}


def _landscape(pos: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Rotate so that the drawing's long axis is horizontal (cells are wide, not tall)."""
    n = len(pos)
    cx = sum(p[0] for p in pos.values()) / n
    cy = sum(p[1] for p in pos.values()) / n
    sxx = sum((p[0] - cx) ** 2 for p in pos.values())
    syy = sum((p[1] - cy) ** 2 for p in pos.values())
    sxy = sum((p[0] - cx) * (p[1] - cy) for p in pos.values())
    angle = -0.5 * math.atan2(2 * sxy, sxx - syy)
    c, s = math.cos(angle), math.sin(angle)
    return {k: ((x - cx) * c - (y - cy) * s, (x - cx) * s + (y - cy) * c) for k, (x, y) in pos.items()}


def positions(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Stable pixel positions for nodes joined by edges (whatever order they come in)."""
    edges = sorted(set(edges))
    order = bfs_order(nodes, edges)
    if len(order) <= 1:
        return {n: (WIDTH / 2, HEIGHT / 2) for n in order}
    if len(order) > LARGE:
        return _fit(_grid(order), [])
    return _spread(_fit(_springs(order, edges), edges))


def _spread(pos: dict[str, tuple[float, float]], gap: float = MIN_GAP, rounds: int = 80) -> dict[str, tuple[float, float]]:
    """Push apart nodes closer than gap pixels (a machine with its label needs about that),
    deterministically: the hosts around a busy domain no longer pile up."""
    names = sorted(pos)
    xs = [pos[n][0] for n in names]
    ys = [pos[n][1] for n in names]
    for _ in range(rounds):
        moved = False
        for i in range(len(names)):
            xi, yi = xs[i], ys[i]
            for j in range(i + 1, len(names)):
                dx, dy = xs[j] - xi, ys[j] - yi
                if dx >= gap or dx <= -gap or dy >= gap or dy <= -gap:  # (most pairs: no hypot)
                    continue
                dist = math.hypot(dx, dy)
                if dist >= gap:
                    continue
                if dist < 1e-6:  # on top of each other: a fixed direction
                    dx, dy, dist = 1.0, 0.5, math.hypot(1.0, 0.5)
                push = (gap - dist) / 2
                ux, uy = dx / dist * push, dy / dist * push
                xi, yi = xs[i] - ux, ys[i] - uy
                xs[i], ys[i] = xi, yi
                xs[j] += ux
                ys[j] += uy
                moved = True
        if not moved:
            break
    lo_x, lo_y = min(xs), min(ys)
    return {n: (round(x - lo_x, 1), round(y - lo_y, 1)) for n, x, y in zip(names, xs, ys)}


def place_near(neighbours: list[tuple[float, float]], taken: list[tuple[float, float]]) -> tuple[float, float]:
    """A position for a node added later: beside its neighbours, off any taken spot."""
    if neighbours:
        x = sum(p[0] for p in neighbours) / len(neighbours) + 60
        y = sum(p[1] for p in neighbours) / len(neighbours) + 60
    else:
        x, y = (max((p[0] for p in taken), default=0.0) + 80, 0.0)
    while any(abs(x - a) < 30 and abs(y - b) < 30 for a, b in taken):
        x, y = x + 40, y + 25
    return (round(x, 1), round(y, 1))
