"""A link from an output port to an input port, in the slot's colour: a bezier where it
is clear of every node, else routed around them (``routing.py``)."""

from __future__ import annotations

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QPainterPath, QPainterPathStroker, QPen
from qtpy.QtWidgets import QGraphicsItem, QGraphicsPathItem

from gateway_studio.engine.graph import Link

from .port_item import PortItem
from .routing import bezier_controls, rounded, route
from .spatial import Rect, RectIndex


def path_of(
    start: QPointF, end: QPointF, bodies: list[Rect] | RectIndex, own: list[Rect]
) -> QPainterPath:
    """The wire's path: the bezier when it clears every body, else the routed one."""
    corners = route((start.x(), start.y()), (end.x(), end.y()), bodies, own)
    if corners is None:
        return bezier(start, end)
    path = QPainterPath()
    for op, args in rounded(corners):
        if op == "M":
            path.moveTo(*args)
        elif op == "L":
            path.lineTo(*args)
        else:
            path.quadTo(*args)
    return path


def bezier(start: QPointF, end: QPointF) -> QPainterPath:
    dx = max(60.0, abs(end.x() - start.x()) * 0.5)
    path = QPainterPath(start)
    path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
    return path


class WireItem(QGraphicsPathItem):
    def __init__(self, link: Link, src: PortItem, dst: PortItem) -> None:
        super().__init__()
        self.link = link
        self.src, self.dst = src, dst
        self.color = QColor(src.color)
        self.setZValue(-1)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setToolTip(str(link))
        self._hover = False
        self._apply_pen()
        self.setPath(bezier(src.scenePos(), dst.scenePos()))  # the scene routes it

    def _apply_pen(self) -> None:
        width = 3.5 if (self._hover or self.isSelected()) else 2.2
        color = QColor(self.color)
        if self.dst.node.bypassed or self.src.node.bypassed:
            color.setAlpha(120)
        self.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))

    def update_path(self, bodies: list[Rect] | RectIndex | None = None) -> None:
        """Re-route; ``bodies``: every node body in the scene (the scene passes its
        index of them)."""
        if bodies is None:
            scene = self.scene()
            bodies = scene.bodies() if hasattr(scene, "bodies") else []
        own = [_rect(self.src.node.scene_body()), _rect(self.dst.node.scene_body())]
        self.setPath(path_of(self.src.scenePos(), self.dst.scenePos(), bodies, own))

    def bezier_hull(self) -> QRectF:
        """The box round the plain bezier between the two ports (what it may cross)."""
        a, b = self.src.scenePos(), self.dst.scenePos()
        c1, c2 = bezier_controls((a.x(), a.y()), (b.x(), b.y()))
        xs, ys = (a.x(), b.x(), c1[0], c2[0]), (a.y(), b.y(), c1[1], c2[1])
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        return stroker.createStroke(self.path())

    def itemChange(self, change, value):  # type: ignore[no-untyped-def]
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self._apply_pen()
        return super().itemChange(change, value)

    def mouseDoubleClickEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        """Double-click a wire: a reroute dot there."""
        from .reroute_item import insert_reroute

        scene = self.scene()
        if event.button() == Qt.MouseButton.LeftButton and scene is not None:
            insert_reroute(scene, self.link, event.scenePos())  # type: ignore[arg-type]
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def hoverEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._hover = True
        self._apply_pen()

    def hoverLeaveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._hover = False
        self._apply_pen()


def _rect(r: object) -> Rect:
    return Rect(r.left(), r.top(), r.right(), r.bottom())  # type: ignore[attr-defined]


class DragWire(QGraphicsPathItem):
    """The wire that follows the mouse while a connection is being made."""

    def __init__(self, anchor: PortItem) -> None:
        super().__init__()
        self.anchor = anchor
        self.setZValue(10)
        pen = QPen(QColor(anchor.color), 2.2, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap)
        self.setPen(pen)

    def follow(self, pos: QPointF) -> None:
        a = self.anchor.scenePos()
        self.setPath(bezier(pos, a) if self.anchor.is_input else bezier(a, pos))

    def refuse(self, refused: bool) -> None:
        color = QColor("#e0443c") if refused else QColor(self.anchor.color)
        self.setPen(QPen(color, 2.2, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap))
