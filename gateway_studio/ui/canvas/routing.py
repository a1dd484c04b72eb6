"""Wire routing: a wire never passes under a node.

A wire is the usual S-shaped bezier when that curve clears every node body; otherwise it
is routed around them: an orthogonal path with rounded corners, found by a shortest-path
search (length plus a penalty per bend) over the lines just outside the nodes' edges.
Pure geometry on plain floats, so the canvas, the tests and a benchmark share it.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Point = tuple[float, float]

#: How far outside a node a routed wire runs.
MARGIN = 14.0
#: A wire leaves an output (and enters an input) horizontally for at least this long.
STUB = MARGIN + 8.0
#: Cost of one bend, in scene units of length: fewer corners beat slightly shorter paths.
BEND = 60.0
#: Corner radius of a routed wire.
RADIUS = 10.0
#: Clearance a bezier keeps from nodes other than its own two.
CLEARANCE = 4.0


@dataclass(frozen=True)
class Rect:
    left: float
    top: float
    right: float
    bottom: float

    def grown(self, by: float) -> Rect:
        return Rect(self.left - by, self.top - by, self.right + by, self.bottom + by)

    def contains(self, p: Point, tol: float = 0.5) -> bool:
        """Strictly inside (a point on the edge, like a port, is not)."""
        x, y = p
        return self.left + tol < x < self.right - tol and self.top + tol < y < self.bottom - tol

    def crosses(self, a: Point, b: Point) -> bool:
        """An axis-aligned segment a–b passes through the inside."""
        (ax, ay), (bx, by) = a, b
        if ay == by:
            lo, hi = sorted((ax, bx))
            return self.top < ay < self.bottom and lo < self.right and hi > self.left
        lo, hi = sorted((ay, by))
        return self.left < ax < self.right and lo < self.bottom and hi > self.top

    def overlaps(self, other: Rect) -> bool:
        return not (
            other.left >= self.right
            or other.right <= self.left
            or other.top >= self.bottom
            or other.bottom <= self.top
        )


def bezier_controls(start: Point, end: Point) -> tuple[Point, Point]:
    dx = max(60.0, abs(end[0] - start[0]) * 0.5)
    return (start[0] + dx, start[1]), (end[0] - dx, end[1])


def bezier_points(start: Point, end: Point, step: float = 4.0) -> list[Point]:
    """Points along the canvas's bezier from ``start`` to ``end``, ``step`` apart or less."""
    c1, c2 = bezier_controls(start, end)
    length = (
        math.dist(start, c1) + math.dist(c1, c2) + math.dist(c2, end)
    )  # the control polygon bounds the curve's length
    n = max(8, int(length / step) + 1)
    out = []
    for i in range(n + 1):
        t = i / n
        u = 1 - t
        a, b, c, d = u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t
        out.append(
            (
                a * start[0] + b * c1[0] + c * c2[0] + d * end[0],
                a * start[1] + b * c1[1] + c * c2[1] + d * end[1],
            )
        )
    return out


def polyline_points(points: Sequence[Point], step: float = 4.0) -> list[Point]:
    """Points along a polyline, ``step`` apart or less (for hit tests)."""
    out: list[Point] = [points[0]]
    for a, b in itertools.pairwise(points):
        n = max(1, int(math.dist(a, b) / step) + 1)
        out.extend(
            (a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(1, n + 1)
        )
    return out


def hits(points: Iterable[Point], bodies: Iterable[Rect]) -> bool:
    bodies = list(bodies)
    return any(body.contains(p) for p in points for body in bodies)


def _bezier_clear(start: Point, end: Point, own: Sequence[Rect], others: Sequence[Rect]) -> bool:
    c1, c2 = bezier_controls(start, end)
    xs, ys = (start[0], end[0], c1[0], c2[0]), (start[1], end[1], c1[1], c2[1])
    hull = Rect(min(xs), min(ys), max(xs), max(ys))
    near = [r.grown(CLEARANCE) for r in others if r.overlaps(hull.grown(CLEARANCE))]
    near += [r for r in own if r.overlaps(hull)]
    if not near:
        return True
    return not hits(bezier_points(start, end), near)


def route(
    start: Point, end: Point, bodies: Sequence[Rect], own: Sequence[Rect] = ()
) -> list[Point] | None:
    """The corners of a path from an output at ``start`` to an input at ``end`` that
    avoids ``bodies`` (``own``: the two nodes the wire connects, also avoided), or None
    when the plain bezier is clear. When no clear path exists (nodes overlapping each
    other), the path with the fewest crossings the search found is still better than
    a bezier, except that overlapping nodes leave none: then None."""
    others = [b for b in bodies if b not in own]
    if _bezier_clear(start, end, own, others):
        return None
    for margin, midlines in ((MARGIN, False), (MARGIN, True), (MARGIN / 3, True)):
        path = _orthogonal(start, end, [*others, *own], margin, midlines)
        if path is not None:
            return path
    return None


def _orthogonal(
    start: Point, end: Point, bodies: Sequence[Rect], margin: float, midlines: bool
) -> list[Point] | None:
    stub = margin + 8.0
    s = (start[0] + stub, start[1])
    e = (end[0] - stub, end[1])
    walls = [b.grown(margin) for b in bodies]
    if any(w.contains(s, 0) or w.contains(e, 0) for w in walls):
        return None
    # grid lines from the walls near the two ends only (a big patch stays quick); every
    # wall still blocks
    area = Rect(min(s[0], e[0]), min(s[1], e[1]), max(s[0], e[0]), max(s[1], e[1])).grown(600)
    near = [w for w in walls if w.overlaps(area)]
    xs = sorted({s[0], e[0], *(v for w in near for v in (w.left, w.right))})
    ys = sorted({s[1], e[1], *(v for w in near for v in (w.top, w.bottom))})
    if midlines:  # the middle of each gap gives the search room in tight places
        xs = sorted({*xs, *((a + b) / 2 for a, b in itertools.pairwise(xs))})
        ys = sorted({*ys, *((a + b) / 2 for a, b in itertools.pairwise(ys))})
    free = {
        (i, j)
        for i, x in enumerate(xs)
        for j, y in enumerate(ys)
        if not any(w.contains((x, y), 0) for w in walls)
    }
    si, sj = xs.index(s[0]), ys.index(s[1])
    ei, ej = xs.index(e[0]), ys.index(e[1])
    cells = _search(xs, ys, free, walls, (si, sj), (ei, ej))
    if cells is None:
        return None
    corners = [start, *_simplify([(xs[i], ys[j]) for i, j in cells]), end]
    return _simplify(corners)


def _search(
    xs: Sequence[float],
    ys: Sequence[float],
    free: set[tuple[int, int]],
    walls: Sequence[Rect],
    src: tuple[int, int],
    dst: tuple[int, int],
) -> list[tuple[int, int]] | None:
    """Dijkstra over grid cells; a state is (cell, direction) so bends can be charged.
    The wire arrives at ``src`` horizontally (out of the output's stub)."""
    State = tuple[int, int, int]  # i, j, direction (0 horizontal, 1 vertical)
    start: State = (src[0], src[1], 0)
    best: dict[State, float] = {start: 0.0}
    back: dict[State, State] = {}
    heap: list[tuple[float, State]] = [(0.0, start)]
    blocked: dict[tuple[int, int, int, int], bool] = {}
    while heap:
        cost, state = heapq.heappop(heap)
        if cost > best.get(state, math.inf):
            continue
        i, j, d = state
        if (i, j) == dst:
            cells = [(i, j)]
            while state in back:
                state = back[state]
                cells.append((state[0], state[1]))
            return cells[::-1]
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ni, nj = i + di, j + dj
            if (ni, nj) not in free:
                continue
            a, b = (xs[i], ys[j]), (xs[ni], ys[nj])
            edge = (min(i, ni), min(j, nj), max(i, ni), max(j, nj))
            if edge not in blocked:
                blocked[edge] = any(w.crosses(a, b) for w in walls)
            if blocked[edge]:
                continue
            nd = 0 if dj == 0 else 1
            step = math.dist(a, b) + (BEND if nd != d else 0.0)
            nxt = (ni, nj, nd)
            if cost + step < best.get(nxt, math.inf):
                best[nxt] = cost + step
                back[nxt] = state
                heapq.heappush(heap, (cost + step, nxt))
    return None


def _simplify(points: Sequence[Point]) -> list[Point]:
    """Drop repeated points and the middle of three collinear ones."""
    out: list[Point] = []
    for p in points:
        if out and math.dist(out[-1], p) < 1e-6:
            continue
        if len(out) >= 2:
            (ax, ay), (bx, by) = out[-2], out[-1]
            if (ax == bx == p[0]) or (ay == by == p[1]):
                out[-1] = p
                continue
        out.append(p)
    return out


def rounded(points: Sequence[Point], radius: float = RADIUS) -> list[tuple[str, tuple[float, ...]]]:
    """Drawing instructions for a polyline with rounded corners: ("M"|"L", (x, y)) and
    ("Q", (cx, cy, x, y)). Kept free of Qt so tests can check them."""
    ops: list[tuple[str, tuple[float, ...]]] = [("M", points[0])]
    for k in range(1, len(points) - 1):
        prev, cur, nxt = points[k - 1], points[k], points[k + 1]
        r = min(radius, math.dist(prev, cur) / 2, math.dist(cur, nxt) / 2)
        a = _towards(cur, prev, r)
        b = _towards(cur, nxt, r)
        ops.append(("L", a))
        ops.append(("Q", (*cur, *b)))
    ops.append(("L", points[-1]))
    return ops


def _towards(origin: Point, target: Point, dist: float) -> Point:
    length = math.dist(origin, target) or 1.0
    return (
        origin[0] + (target[0] - origin[0]) * dist / length,
        origin[1] + (target[1] - origin[1]) * dist / length,
    )
