"""The minimap: the whole patch in a corner of the canvas, with the visible part outlined.

Click or drag in it to pan there. It shows only when the patch does not fit in the view
(a patch that fits needs no map), and it can be switched off in View ▸ Minimap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QPointF, QRectF, Qt, QTimer
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QWidget

from gateway_studio.ui import theme

if TYPE_CHECKING:
    from .view import NodeView

WIDTH, HEIGHT = 220, 150
#: Screen pixels between the map and the canvas's corner, and inside the map's frame.
MARGIN, INSET = 12, 8

#: Smallest mark of a node, and of the visible area, in map pixels: a patch thousands of
#: nodes wide still shows where its nodes are and where the view is.
MARK, SEEN = 2.0, 6.0


def at_least(rect: QRectF, size: float) -> QRectF:
    """``rect`` grown round its centre to at least ``size`` each way."""
    w, h = max(rect.width(), size), max(rect.height(), size)
    return QRectF(rect.center().x() - w / 2, rect.center().y() - h / 2, w, h)


class Minimap(QWidget):
    def __init__(self, view: NodeView) -> None:
        super().__init__(view)  # on the view, not its viewport: a scroll must not move it
        self.view = view
        #: View ▸ Minimap: off hides it whatever the patch's size.
        self.enabled = True
        self.setFixedSize(WIDTH, HEIGHT)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Minimap: click or drag to pan the canvas")
        self.setVisible(False)
        #: The area shown, held still while the user drags in the map.
        self._held: QRectF | None = None
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(0)
        self._soon.timeout.connect(self.refresh_now)
        view.node_scene.changed.connect(lambda _rects: self.refresh())

    # -- geometry -----------------------------------------------------------------------
    def graph_rect(self) -> QRectF:
        return self.view.node_scene.items_rect()

    def visible_rect(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def needed(self) -> bool:
        graph = self.graph_rect()
        return self.enabled and not graph.isNull() and not self.visible_rect().contains(graph)

    def _world(self) -> QRectF:
        """The scene area the map shows: the graph and the visible rectangle."""
        if self._held is not None:
            return self._held
        return self.graph_rect().united(self.visible_rect())

    def _scale(self) -> tuple[float, QPointF]:
        """Scene → map: a scale and the map position of the world's top-left corner."""
        world = self._world()
        inner_w, inner_h = WIDTH - 2 * INSET, HEIGHT - 2 * INSET
        scale = min(inner_w / max(world.width(), 1.0), inner_h / max(world.height(), 1.0))
        ox = INSET + (inner_w - world.width() * scale) / 2
        oy = INSET + (inner_h - world.height() * scale) / 2
        return scale, QPointF(ox - world.left() * scale, oy - world.top() * scale)

    def to_map(self, rect: QRectF, transform: tuple[float, QPointF] | None = None) -> QRectF:
        scale, origin = transform or self._scale()
        return QRectF(
            origin.x() + rect.left() * scale,
            origin.y() + rect.top() * scale,
            rect.width() * scale,
            rect.height() * scale,
        )

    def to_scene(self, point: QPointF) -> QPointF:
        scale, origin = self._scale()
        return QPointF((point.x() - origin.x()) / scale, (point.y() - origin.y()) / scale)

    # -- keeping up with the view -------------------------------------------------------
    def refresh(self) -> None:
        """Soon (once per burst of scrolls, moves and edits): ``refresh_now``."""
        self._soon.start()

    def refresh_now(self) -> None:
        """Show or hide by whether the patch fits; redraw; stay in the corner."""
        try:
            self._refresh()
        except RuntimeError:  # the scene's items are going away with the window
            self.setVisible(False)

    def _refresh(self) -> None:
        port = self.view.viewport().geometry()
        self.move(port.right() - WIDTH - MARGIN + 1, port.bottom() - HEIGHT - MARGIN + 1)
        show = self.needed()
        if show != self.isVisible():
            self.setVisible(show)
        if show:
            self.raise_()
            self.update()

    # -- painting -----------------------------------------------------------------------
    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(0.5, 0.5, WIDTH - 1, HEIGHT - 1)
        painter.setPen(QPen(QColor(theme.GRID_MAJOR), 1))
        painter.setBrush(QColor(20, 22, 25, 225))
        painter.drawRoundedRect(frame, 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        transform = self._scale()  # once: it measures the whole patch
        for item in self.view.node_scene.nodes.values():
            color = QColor(theme.family_color(item.spec.family))
            if item.isSelected():
                color = QColor(theme.SELECTED)
            painter.setBrush(color)
            painter.drawRect(at_least(self.to_map(item.scene_body(), transform), MARK))
        seen = at_least(self.to_map(self.visible_rect(), transform), SEEN)
        seen = seen.intersected(frame.adjusted(1, 1, -1, -1))
        painter.setBrush(QColor(255, 255, 255, 28))
        painter.setPen(QPen(QColor("#e8eaed"), 1.5))
        painter.drawRect(seen)
        painter.end()

    # -- panning ------------------------------------------------------------------------
    def _pan_to(self, pos: QPointF) -> None:
        self.view.centerOn(self.to_scene(pos))
        self.refresh_now()

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.button() == Qt.MouseButton.LeftButton:
            self._held = self._world()
            self._pan_to(event.position())
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._held = None
        self.refresh()
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._pan_to(event.position())
        event.accept()
