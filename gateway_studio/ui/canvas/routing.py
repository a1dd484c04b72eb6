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

from .spatial import Point, Rect, RectIndex

__all__ = [  # Rect and Point are the routing vocabulary (their home is spatial.py)
    "Obstacles",
    "Point",
    "Rect",
    "RectIndex",
    "bezier_controls",
    "bezier_points",
    "enters",
    "hits",
    "polyline_points",
    "rounded",
    "route",
]

#: A cubic bezier: start, two control points, end.
Curve = tuple[Point, Point, Point, Point]

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
#: Grid lines for a routed wire come from the walls within this distance of it.
REACH = 600.0
#: A piece of bezier this close to straight is tested as its control polygon …
FLAT = 0.25
#: … against the inside of a node, less this much (a point on the edge is outside).
TOL = 0.5
#: Nodes near a piece of bezier below which its halves test them without the index.
FEW = 24
#: Halvings of a bezier at most (2**-30 of a wire is far below a pixel).
MAX_DEPTH = 30


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


class Obstacles:
    """What one wire avoids: every node body (``bodies``, a list or a ``RectIndex``) and
    its own two nodes (``own``; the other nodes keep a ``CLEARANCE`` from a bezier, its
    own two do not). Every question goes through the index, so it costs about the log of
    the patch's size plus the bodies near the place asked about."""

    def __init__(self, bodies: Sequence[Rect] | RectIndex, own: Sequence[Rect] = ()) -> None:
        self.index = bodies if isinstance(bodies, RectIndex) else RectIndex(bodies)
        self.own = tuple(own)

    def near(self, box: Rect, limit: int | None = None) -> list[Rect] | None:
        """What a piece of bezier inside ``box`` may touch: the other nodes grown by
        ``CLEARANCE`` and its own two, those that overlap ``box``; None when there are
        more than ``limit`` (the piece is then halved before asking again)."""
        wide = box.grown(CLEARANCE)
        found = self.index.query(wide) if limit is None else self.index.query_few(wide, limit)
        if found is None:
            return None
        near = [r.grown(CLEARANCE) for r in found if r not in self.own]
        return near + [o for o in self.own if o.overlaps(box)]

    def walls(self, area: Rect, margin: float) -> list[Rect]:
        """Every body (own ones too), grown by ``margin``, that overlaps ``area``."""
        wide = area.grown(margin)
        found = dict.fromkeys(self.index.query(wide))
        found.update(dict.fromkeys(o for o in self.own if o.overlaps(wide)))
        return [r.grown(margin) for r in found]

    def in_wall(self, p: Point, margin: float) -> bool:
        return any(w.contains(p, 0) for w in self.walls(Rect(p[0], p[1], p[0], p[1]), margin))

    def blocked(self, a: Point, b: Point, margin: float) -> bool:
        """An axis-aligned segment a–b passes through a wall."""
        box = Rect(min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
        return any(w.crosses(a, b) for w in self.walls(box, margin))


def _split(c: Curve) -> tuple[Curve, Curve]:
    """A cubic bezier cut in two at its middle (de Casteljau)."""
    p0, p1, p2, p3 = c

    def mid(a: Point, b: Point) -> Point:
        return (a[0] + b[0]) / 2, (a[1] + b[1]) / 2

    a, b, cc = mid(p0, p1), mid(p1, p2), mid(p2, p3)
    d, e = mid(a, b), mid(b, cc)
    m = mid(d, e)
    return (p0, a, d, m), (m, e, cc, p3)


def _flat(curve: Curve) -> bool:
    """Both control points within ``FLAT`` of the chord: the piece is its control
    polygon, to a quarter of a pixel."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    dx, dy = x3 - x0, y3 - y0
    chord = math.hypot(dx, dy)
    if chord < 1e-9:
        return max(math.dist(curve[0], curve[1]), math.dist(curve[0], curve[2])) <= FLAT
    off1 = abs((x1 - x0) * dy - (y1 - y0) * dx) / chord
    off2 = abs((x2 - x0) * dy - (y2 - y0) * dx) / chord
    return max(off1, off2) <= FLAT


def enters(a: Point, b: Point, r: Rect) -> bool:
    """The segment a–b passes through the inside of ``r`` (along an edge or through a
    corner does not): Liang–Barsky clipping."""
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in (
        (-dx, a[0] - r.left),
        (dx, r.right - a[0]),
        (-dy, a[1] - r.top),
        (dy, r.bottom - a[1]),
    ):
        if p == 0:
            if q <= 0:
                return False
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
    return t0 < t1


def _bezier_clear(start: Point, end: Point, obs: Obstacles) -> bool:
    """Whether the plain bezier keeps off every node. A piece of it whose control hull
    overlaps no node is clear; the others are halved (carrying the nodes near them, once
    there are few) until they are flat, and then their control polygon, which is the
    piece to ``FLAT``, is tested exactly."""
    c1, c2 = bezier_controls(start, end)
    stack: list[tuple[Curve, int, list[Rect] | None]] = [((start, c1, c2, end), 0, None)]
    while stack:
        curve, depth, near = stack.pop()
        xs = [p[0] for p in curve]
        ys = [p[1] for p in curve]
        box = Rect(min(xs), min(ys), max(xs), max(ys))
        near = obs.near(box, FEW) if near is None else [r for r in near if r.overlaps(box)]
        if near == []:
            continue
        if depth >= MAX_DEPTH or _flat(curve):
            inside = [r.grown(FLAT - TOL) for r in (near or obs.near(box) or ())]
            legs = itertools.pairwise(curve)
            if any(enters(a, b, r) for a, b in legs for r in inside):
                return False
            continue
        first, second = _split(curve)
        stack += [(second, depth + 1, near), (first, depth + 1, near)]
    return True


def route(
    start: Point, end: Point, bodies: Sequence[Rect] | RectIndex, own: Sequence[Rect] = ()
) -> list[Point] | None:
    """The corners of a path from an output at ``start`` to an input at ``end`` that
    avoids ``bodies`` (``own``: the two nodes the wire connects, also avoided), or None
    when the plain bezier is clear. When no clear path exists (nodes overlapping each
    other), the path with the fewest crossings the search found is still better than
    a bezier, except that overlapping nodes leave none: then None."""
    obs = Obstacles(bodies, own)
    if _bezier_clear(start, end, obs):
        return None
    for margin, midlines in ((MARGIN, False), (MARGIN, True), (MARGIN / 3, True)):
        path = _orthogonal(start, end, obs, margin, midlines)
        if path is not None:
            return path
    return None


def _areas(s: Point, e: Point) -> list[list[Rect]]:
    """Where grid lines come from, tried in turn: for a long wire first the walls near its
    two ends only (a wire down a column of a thousand nodes), then near its whole box."""
    box = Rect(min(s[0], e[0]), min(s[1], e[1]), max(s[0], e[0]), max(s[1], e[1]))
    whole = [box.grown(REACH)]
    if max(box.right - box.left, box.bottom - box.top) <= 2 * REACH:
        return [whole]
    ends = [Rect(p[0], p[1], p[0], p[1]).grown(REACH) for p in (s, e)]
    return [ends, whole]


def _orthogonal(
    start: Point, end: Point, obs: Obstacles, margin: float, midlines: bool
) -> list[Point] | None:
    stub = margin + 8.0
    s = (start[0] + stub, start[1])
    e = (end[0] - stub, end[1])
    if obs.in_wall(s, margin) or obs.in_wall(e, margin):
        return None
    # grid lines from the walls near the wire only (a big patch stays quick); every wall
    # still blocks
    for areas in _areas(s, e):
        near = {w for area in areas for w in obs.walls(area, margin)}
        xs = sorted({s[0], e[0], *(v for w in near for v in (w.left, w.right))})
        ys = sorted({s[1], e[1], *(v for w in near for v in (w.top, w.bottom))})
        if midlines:  # the middle of each gap gives the search room in tight places
            xs = sorted({*xs, *((a + b) / 2 for a, b in itertools.pairwise(xs))})
            ys = sorted({*ys, *((a + b) / 2 for a, b in itertools.pairwise(ys))})
        points = _zigzag(s, e, xs, obs, margin)
        if points is None:
            src, dst = (xs.index(s[0]), ys.index(s[1])), (xs.index(e[0]), ys.index(e[1]))
            cells = _search(xs, ys, obs, margin, src, dst)
            points = None if cells is None else [(xs[i], ys[j]) for i, j in cells]
        if points is not None:
            return _simplify([start, *_simplify(points), end])
    return None


def _zigzag(
    s: Point, e: Point, xs: Sequence[float], obs: Obstacles, margin: float
) -> list[Point] | None:
    """The cheapest shapes first: an L (across, then down into the input's stub), else a
    Z through one of the grid's vertical lines between the ends, nearest the middle first.
    Either is as short as a path can be with that few bends, so the search would find
    nothing better."""
    if s[0] > e[0]:
        return None
    middle = (s[0] + e[0]) / 2
    between = sorted((x for x in xs if s[0] <= x < e[0]), key=lambda x: abs(x - middle))
    for x in [e[0], *between]:
        points = [s, (x, s[1]), (x, e[1]), e]
        legs = [(a, b) for a, b in itertools.pairwise(points) if a != b]
        if not any(obs.blocked(a, b, margin) for a, b in legs):
            return points
    return None


def _search(
    xs: Sequence[float],
    ys: Sequence[float],
    obs: Obstacles,
    margin: float,
    src: tuple[int, int],
    dst: tuple[int, int],
) -> list[tuple[int, int]] | None:
    """A* over grid points (the Manhattan distance to go never overestimates); a state
    is (point, direction) so bends can be charged. The wire arrives at ``src``
    horizontally (out of the output's stub). Points and edges are tested against the
    walls only when the search reaches them."""
    State = tuple[int, int, int]  # i, j, direction (0 horizontal, 1 vertical)
    start: State = (src[0], src[1], 0)
    goal = (xs[dst[0]], ys[dst[1]])
    best: dict[State, float] = {start: 0.0}
    back: dict[State, State] = {}
    heap: list[tuple[float, float, State]] = [(0.0, 0.0, start)]
    free: dict[tuple[int, int], bool] = {src: True}
    blocked: dict[tuple[int, int, int, int], bool] = {}
    while heap:
        _, cost, state = heapq.heappop(heap)
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
            if not (0 <= ni < len(xs) and 0 <= nj < len(ys)):
                continue
            a, b = (xs[i], ys[j]), (xs[ni], ys[nj])
            if (ni, nj) not in free:
                free[(ni, nj)] = not obs.in_wall(b, margin)
            if not free[(ni, nj)]:
                continue
            edge = (min(i, ni), min(j, nj), max(i, ni), max(j, nj))
            if edge not in blocked:
                blocked[edge] = obs.blocked(a, b, margin)
            if blocked[edge]:
                continue
            nd = 0 if dj == 0 else 1
            step = math.dist(a, b) + (BEND if nd != d else 0.0)
            nxt = (ni, nj, nd)
            if cost + step < best.get(nxt, math.inf):
                best[nxt] = cost + step
                back[nxt] = state
                rest = abs(goal[0] - b[0]) + abs(goal[1] - b[1])
                heapq.heappush(heap, (cost + step + rest, cost + step, nxt))
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
