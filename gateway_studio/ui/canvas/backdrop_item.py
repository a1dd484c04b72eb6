"""A titled frame behind a group of nodes; dragging it moves the nodes on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPen
from qtpy.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gateway_studio.engine.graph import Backdrop

if TYPE_CHECKING:
    from .node_item import NodeItem
    from .scene import NodeScene

TITLE_H = 30.0
GRIP = 16.0


class BackdropItem(QGraphicsItem):
    def __init__(self, scene: NodeScene, index: int, backdrop: Backdrop) -> None:
        super().__init__()
        self.node_scene = scene
        self.index = index
        self.backdrop = backdrop
        self._size = (backdrop.rect[2], backdrop.rect[3])
        self._carried: list[NodeItem] = []
        self._press_pos: QPointF | None = None
        self._resizing = False
        self._syncing = False
        self.setZValue(-10)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.sync(backdrop)

    def sync(self, backdrop: Backdrop) -> None:
        self._syncing = True
        self.prepareGeometryChange()
        self.backdrop = backdrop
        x, y, w, h = backdrop.rect
        self._size = (w, h)
        self.setPos(x, y)
        self.setToolTip(
            f"{backdrop.title} — drag to move the nodes on it; double-click the title to rename"
        )
        self._syncing = False
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self._size).adjusted(-2, -2, 2, 2)

    def grip_rect(self) -> QRectF:
        w, h = self._size
        return QRectF(w - GRIP, h - GRIP, GRIP, GRIP)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self._size
        color = QColor(self.backdrop.color)
        fill = QColor(color)
        fill.setAlpha(90)
        painter.setPen(QPen(QColor("#f0a030") if self.isSelected() else color.lighter(130), 1.5))
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(0, 0, w, h), 6, 6)
        title = QColor(color)
        title.setAlpha(200)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(title)
        painter.drawRoundedRect(QRectF(0, 0, w, TITLE_H), 6, 6)
        painter.setPen(QColor("#eef0f3"))
        font = QFont(painter.font())
        font.setPointSizeF(12)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(
            QRectF(10, 0, w - 20, TITLE_H),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            self.backdrop.title,
        )
        painter.setPen(QPen(color.lighter(150), 1.5))
        g = self.grip_rect()
        for i in range(3):
            off = 4 + i * 4
            painter.drawLine(
                QPointF(g.right() - off, g.bottom() - 2), QPointF(g.right() - 2, g.bottom() - off)
            )

    def contained_nodes(self) -> list[NodeItem]:
        area = self.sceneBoundingRect()
        return [
            n
            for n in self.node_scene.nodes.values()
            if area.contains(n.sceneBoundingRect().center())
        ]

    def itemChange(self, change, value):  # type: ignore[no-untyped-def]
        if (
            change == QGraphicsItem.GraphicsItemChange.ItemPositionChange
            and not self._syncing
            and self._carried
        ):
            delta = value - self.pos()
            for node in self._carried:
                if not node.isSelected():  # selected nodes already move with the drag
                    node.setPos(node.pos() + delta)
        return super().itemChange(change, value)

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._press_pos = QPointF(self.pos())
        self._resizing = self.grip_rect().contains(event.pos())
        self._carried = [] if self._resizing else self.contained_nodes()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._resizing:
            self.prepareGeometryChange()
            self._size = (max(120.0, event.pos().x()), max(80.0, event.pos().y()))
            self.update()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().mouseReleaseEvent(event)
        doc = self.node_scene.doc
        start = self._press_pos or self.pos()
        if self._resizing:
            x, y, _, _ = self.backdrop.rect
            doc.edit_backdrop(
                self.index, Backdrop(self.backdrop.title, (x, y, *self._size), self.backdrop.color)
            )
        else:
            delta = self.pos() - start
            if delta.manhattanLength() > 0.5:
                ids = [n.node_id for n in self._carried if not n.isSelected()]
                doc.move_backdrop(self.index, delta.x(), delta.y(), ids)
        self._carried = []
        self._resizing = False

    def mouseDoubleClickEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.pos().y() <= TITLE_H:
            from qtpy.QtWidgets import QInputDialog

            title, ok = QInputDialog.getText(None, "Backdrop", "Title:", text=self.backdrop.title)
            if ok:
                b = self.backdrop
                self.node_scene.doc.edit_backdrop(self.index, Backdrop(title, b.rect, b.color))
            return
        super().mouseDoubleClickEvent(event)
