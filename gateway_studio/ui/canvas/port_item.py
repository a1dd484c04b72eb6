"""A typed, colour-coded connection point on a node (inputs left, outputs right)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QRectF, Qt
from qtpy.QtGui import QBrush, QColor, QPainter, QPen
from qtpy.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gateway_studio.ui.theme import slot_color

if TYPE_CHECKING:
    from .node_item import NodeItem

RADIUS = 6.0


class PortItem(QGraphicsItem):
    def __init__(
        self, node: NodeItem, name: str, type_name: str, *, is_input: bool, optional: bool = False
    ) -> None:
        super().__init__(node)
        self.node = node
        self.name = name
        self.type_name = type_name
        self.is_input = is_input
        self.optional = optional
        self.color = slot_color(type_name)
        #: While a wire is dragged: None (neutral), True (may connect), False (refused).
        self.hint: bool | None = None
        self._hover = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        kind = "input" if is_input else "output"
        extra = " (optional)" if optional else ""
        self.setToolTip(f"{kind} <b>{name}</b>: {type_name}{extra}")
        self.setZValue(2)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:
        r = RADIUS + 4
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(self.color)
        r = RADIUS + (2 if self._hover or self.hint else 0)
        if self.hint is False:
            color.setAlpha(60)
        pen = QPen(QColor("#15171a"), 1.5)
        if self.hint:
            pen = QPen(QColor("#ffffff"), 2.0)
        painter.setPen(pen)
        connected = self.node.is_port_connected(self)
        painter.setBrush(
            QBrush(color) if connected or not self.is_input else QBrush(color.darker(250))
        )
        painter.drawEllipse(QRectF(-r, -r, 2 * r, 2 * r))
        if self.is_input and not connected:
            painter.setBrush(QBrush(color))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(-r / 2.5, -r / 2.5, r / 1.25, r / 1.25))

    def hoverEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._hover = False
        self.update()

    def set_hint(self, hint: bool | None) -> None:
        if hint != self.hint:
            self.hint = hint
            self.update()
