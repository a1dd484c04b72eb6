"""Which node bodies touch a rectangle: a bulk-loaded R-tree, so routing one wire asks
about the few nodes near it instead of testing every node in the patch.

The tree is packed once (Sort-Tile-Recursive: slices by x, runs by y, ``LEAF`` rectangles
a box) from the bodies of a patch; a query visits only the boxes that overlap it, so it
costs about ``log n`` plus what it finds. Moving, adding or removing a body does not
repack: the body goes to a short list beside the tree, which is scanned on every query,
and the tree is repacked once that list grows past a fraction of the patch (a drag moves
one node many times a second). ``checks`` counts every rectangle test, so a test can
guard the scaling without timing anything.

Pure geometry on plain floats, like ``routing.py``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

Point = tuple[float, float]


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


#: Rectangles (or child boxes) per box of the tree.
LEAF = 12
#: Bodies changed since the last packing that make the next query repack the tree.
REPACK_MIN = 48

#: (left, top, right, bottom, payload): a body's key at the bottom level, else child boxes.
Box: TypeAlias = tuple[float, float, float, float, object]


def _pack(boxes: list[Box]) -> list[Box]:
    """One level up: the boxes grouped ``LEAF`` at a time, neighbours together."""
    groups = math.ceil(len(boxes) / LEAF)
    per_slice = math.ceil(math.sqrt(groups)) * LEAF
    boxes.sort(key=lambda b: b[0] + b[2])
    parents: list[Box] = []
    for i in range(0, len(boxes), per_slice):
        run = sorted(boxes[i : i + per_slice], key=lambda b: b[1] + b[3])
        for j in range(0, len(run), LEAF):
            chunk = run[j : j + LEAF]
            parents.append(
                (
                    min(b[0] for b in chunk),
                    min(b[1] for b in chunk),
                    max(b[2] for b in chunk),
                    max(b[3] for b in chunk),
                    chunk,
                )
            )
    return parents


class RectIndex:
    """Rectangles by key; ``query``/``touches`` find those overlapping a rectangle."""

    def __init__(self, rects: Mapping[Any, Rect] | Iterable[Rect] = ()) -> None:
        items = rects.items() if isinstance(rects, Mapping) else enumerate(rects)
        self._rects: dict[Hashable, Rect] = dict(items)
        #: Bodies added or moved since packing (scanned on every query) …
        self._loose: dict[Hashable, Rect] = {}
        #: … and the keys whose place in the tree is out of date.
        self._stale: set[Hashable] = set()
        self._top: list[Box] = []
        self._height = 0
        #: Rectangle tests made so far (boxes of the tree and bodies): the work done.
        self.checks = 0
        self._repack()

    def __len__(self) -> int:
        return len(self._rects)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._rects

    def get(self, key: Hashable) -> Rect | None:
        return self._rects.get(key)

    def rects(self) -> list[Rect]:
        return list(self._rects.values())

    # -- edits ----------------------------------------------------------------------------
    def set(self, key: Hashable, rect: Rect) -> None:
        """Add ``key`` or move it to ``rect``."""
        if self._rects.get(key) == rect:
            return
        self._rects[key] = rect
        self._loose[key] = rect
        self._stale.add(key)

    def remove(self, key: Hashable) -> None:
        if self._rects.pop(key, None) is not None:
            self._loose.pop(key, None)
            self._stale.add(key)

    def _repack(self) -> None:
        level: list[Box] = [(r.left, r.top, r.right, r.bottom, k) for k, r in self._rects.items()]
        self._height = 0
        while len(level) > LEAF:
            level = _pack(level)
            self._height += 1
        self._top = level
        self._loose.clear()
        self._stale.clear()

    def _maybe_repack(self) -> None:
        if len(self._stale) > max(REPACK_MIN, len(self._rects) // 8):
            self._repack()

    # -- queries --------------------------------------------------------------------------
    def _hits(self, left: float, top: float, right: float, bottom: float) -> Iterator[Rect]:
        """Every rectangle that overlaps the given one (touching edges do not)."""
        self._maybe_repack()
        stale = self._stale
        stack: list[tuple[list[Box], int]] = [(self._top, self._height)]
        while stack:
            boxes, height = stack.pop()
            self.checks += len(boxes)
            for box in boxes:
                if box[0] < right and box[2] > left and box[1] < bottom and box[3] > top:
                    if height:
                        stack.append((box[4], height - 1))  # type: ignore[arg-type]
                    elif box[4] not in stale:
                        yield self._rects[box[4]]
        self.checks += len(self._loose)
        for r in self._loose.values():
            if r.left < right and r.right > left and r.top < bottom and r.bottom > top:
                yield r

    def query(self, area: Rect) -> list[Rect]:
        """The rectangles overlapping ``area``."""
        return list(self._hits(area.left, area.top, area.right, area.bottom))

    def query_few(self, area: Rect, limit: int) -> list[Rect] | None:
        """``query``, or None as soon as more than ``limit`` rectangles are found."""
        found: list[Rect] = []
        for r in self._hits(area.left, area.top, area.right, area.bottom):
            found.append(r)
            if len(found) > limit:
                return None
        return found

    def touches(self, area: Rect, exclude: Iterable[Rect] = ()) -> bool:
        """Whether any rectangle but those in ``exclude`` overlaps ``area`` (stops at the
        first one)."""
        skip = tuple(exclude)
        return any(r not in skip for r in self._hits(area.left, area.top, area.right, area.bottom))
