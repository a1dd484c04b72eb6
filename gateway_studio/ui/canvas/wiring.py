"""Keeps the canvas's wires routed, at a cost that follows what changed, not the patch's
size.

* The node bodies live in one ``RectIndex`` (``spatial.py``), kept up to date as nodes
  are added, moved, resized and removed; routing a wire asks it about the nodes near the
  wire only.
* Opening a patch builds every node and wire first (``building``), then routes each
  wire once.
* After a node moves, the wires attached to it re-route at once; the others re-route
  once the event loop is free, and only those whose path or plain bezier comes near
  where the node was or now is (a drag moves a node many times a second).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from qtpy.QtCore import QRectF, QTimer

from .routing import CLEARANCE, MARGIN
from .spatial import Rect, RectIndex

if TYPE_CHECKING:
    from .node_item import NodeItem
    from .scene import NodeScene
    from .wire_item import WireItem


#: Changed places beyond which a deferred pass looks at one box round them all.
MANY = 16


def rect_of(r: QRectF) -> Rect:
    return Rect(r.left(), r.top(), r.right(), r.bottom())


class WireRouter:
    def __init__(self, scene: NodeScene) -> None:
        self.scene = scene
        self.index = RectIndex()
        #: While a patch is being built: no routing until every node is in place.
        self.building = False
        #: Where nodes were or went since the last deferred pass (scene coordinates).
        self._dirty: list[QRectF] = []
        self._timer = QTimer(scene)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.reroute_dirty)
        #: Wires routed so far (with ``index.checks``: the work per wire, for tests).
        self.routed = 0

    @contextmanager
    def build(self) -> Iterator[None]:
        """Add every node and wire inside; each wire is routed once, at the end."""
        self.building = True
        try:
            yield
        finally:
            self.building = False
            nodes = self.scene.nodes.items()
            self.index = RectIndex({nid: rect_of(item.scene_body()) for nid, item in nodes})
            self._dirty.clear()
            self._timer.stop()
            self.route(self.scene.wires.values())

    # -- nodes ----------------------------------------------------------------------------
    def node_placed(self, item: NodeItem) -> None:
        """``item`` was added, moved or resized: its wires follow now, the others soon."""
        if self.building:
            return
        old = self.index.get(item.node_id)
        body = rect_of(item.scene_body())
        self.index.set(item.node_id, body)
        self.route(w for w in self.scene.wires.values() if item in (w.src.node, w.dst.node))
        self._mark([body, old] if old is not None else [body])

    def node_removed(self, node_id: str) -> None:
        old = self.index.get(node_id)
        self.index.remove(node_id)
        if old is not None and not self.building:
            self._mark([old])

    def _mark(self, rects: Iterable[Rect]) -> None:
        for r in rects:
            self._dirty.append(QRectF(r.left, r.top, r.right - r.left, r.bottom - r.top))
        self._timer.start()

    # -- wires ----------------------------------------------------------------------------
    def route(self, wires: Iterable[WireItem]) -> None:
        if self.building:
            return
        for wire in wires:
            wire.update_path(self.index)
            self.routed += 1

    def reroute_all(self) -> None:
        self._dirty.clear()
        self.route(self.scene.wires.values())

    def reroute_dirty(self) -> None:
        """The wires that may now pass under a node that moved there, or be free of one
        that left: those whose path or plain bezier comes near where nodes changed."""
        dirty, self._dirty = self._dirty, []
        if not dirty:
            return
        if len(dirty) > MANY:  # a whole selection dragged: one box round it all
            union = QRectF()
            for r in dirty:
                union = union.united(r)
            dirty = [union]
        pad = 2 * MARGIN + CLEARANCE
        areas = [r.adjusted(-pad, -pad, pad, pad) for r in dirty]
        near = []
        for wire in self.scene.wires.values():
            box = wire.sceneBoundingRect().united(wire.bezier_hull())
            if any(box.intersects(a) for a in areas):
                near.append(wire)
        self.route(near)
