"""The canvas view: zoom around the cursor, pan (middle mouse or space+drag), rubber
band, frame selected/all, Tab for the node search, drops of nodes, images and patches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QCursor, QFont, QPainter, QTransform
from qtpy.QtWidgets import QGraphicsView, QMenu, QWidget

from gateway_studio.engine.imageio import READ_SUFFIXES

from .geometry import LEGIBLE_ZOOM
from .minimap import Minimap
from .scene import NodeScene
from .wire_menu import wire_menu

NODE_MIME = "application/x-gateway-studio-node"
MIN_ZOOM, MAX_ZOOM = 0.1, 4.0
#: Fit never zooms in past 1:1, and leaves this many screen pixels round the graph.
MAX_FIT_ZOOM = 1.0
FIT_MARGIN = 36


def _whole_columns(
    spans: list[tuple[float, float]], focus: QRectF, port: QRect, zoom: float, fallback: float
) -> float:
    """The x to centre on so the view shows ``focus`` and as many whole nodes as it can,
    cutting as few as it can at its edges (a half node at the border reads as a
    rendering fault), preferring the view that shows more of what is upstream."""
    width = port.width() / zoom
    inner = width - FIT_MARGIN / zoom - 8 / zoom
    pad = 8 / zoom
    # the views worth trying start at a node's left edge near the focus; only the nodes
    # such a view can reach count (a column of a thousand nodes is one candidate)
    starts = {a - pad for a, _b in spans if focus.right() - inner <= a - pad <= focus.left()}
    lo_min, hi_max = min(starts, default=0.0), max(starts, default=0.0) + inner
    reach = [(a, b) for a, b in spans if b > lo_min and a < hi_max]
    best: tuple[int, int, float] | None = None
    for lo in sorted(starts):
        whole = sum(1 for a, b in reach if lo <= a and b <= lo + inner)
        cut = sum(1 for a, b in reach if a < lo < b or a < lo + inner < b)
        if best is None or (-whole, cut, lo) < best:
            best = (-whole, cut, lo)
    if best is None:
        return fallback
    return best[2] + width / 2 - FIT_MARGIN / zoom


def _clamp_centre(graph: QRectF, want: QPointF, port: QRect, zoom: float) -> QPointF:
    """Centre on ``want``, but not so far that the view shows empty canvas past the
    graph's edge where it could show more of the graph."""
    half_w = (port.width() / zoom) / 2 - FIT_MARGIN / zoom
    half_h = (port.height() / zoom) / 2 - FIT_MARGIN / zoom
    x = min(max(want.x(), graph.left() + half_w), graph.right() - half_w)
    y = min(max(want.y(), graph.top() + half_h), graph.bottom() - half_h)
    if graph.width() <= 2 * half_w:
        x = graph.center().x()
    if graph.height() <= 2 * half_h:
        y = graph.center().y()
    return QPointF(x, y)


class NodeView(QGraphicsView):
    #: Tab pressed: open the node search at this scene position.
    searchRequested = Signal(QPointF)
    #: A node type dropped from the palette at a scene position.
    nodeDropped = Signal(str, QPointF)
    #: Image files dropped at a scene position.
    imagesDropped = Signal(list, QPointF)
    #: A patch file dropped: open it.
    patchDropped = Signal(str)

    def __init__(self, scene: NodeScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.node_scene = scene
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
            | QPainter.RenderHint.TextAntialiasing
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space = False
        # Smart updates repaint only what changed; the empty-canvas hint needs a full one.
        for signal in (scene.doc.nodeAdded, scene.doc.nodeRemoved):
            signal.connect(self._refresh_hint)
        scene.doc.reset.connect(self._refresh_hint)
        #: Builds the right-click menu for a node id (None: empty canvas); set by the window.
        self.context_menu: Callable[[str | None, QPointF], QMenu | None] | None = None
        self.minimap = Minimap(self)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self.minimap.refresh()

    # -- zoom and pan -------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        factor = target / self.zoom
        if abs(factor - 1.0) > 1e-6:
            self.scale(factor, factor)
            self.minimap.refresh()

    def wheelEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        delta = event.angleDelta().y() or event.angleDelta().x()
        if delta:
            self.zoom_by(1.0015**delta)  # 120 units (one notch) ≈ ×1.2
        event.accept()

    def fit_zoom(self, rect: QRectF) -> float:
        """The zoom that shows ``rect`` with ``FIT_MARGIN`` screen pixels all round."""
        port = self.viewport().rect()
        w = max(port.width() - 2 * FIT_MARGIN, 40)
        h = max(port.height() - 2 * FIT_MARGIN, 40)
        return min(w / max(rect.width(), 1.0), h / max(rect.height(), 1.0))

    def frame(
        self, selected_only: bool = False, *, legible: bool = False, focus: QRectF | None = None
    ) -> None:
        """F: fit the selection (or everything when nothing is selected) in the view, with
        a margin all round, never closer than 1:1 (a single node must not fill the view).

        ``legible`` (opening a patch): never so far out that node text drops below
        ``MIN_SCREEN_PX`` on screen; when the patch is larger than the view at that zoom,
        the view centres on ``focus`` (the node the viewer shows) — the minimap shows the
        rest."""
        rect = self.node_scene.items_rect(selected_only=True) if selected_only else QRectF()
        if rect.isNull():
            rect = self.node_scene.items_rect()
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            self.minimap.refresh()
            return
        zoom = min(self.fit_zoom(rect), MAX_FIT_ZOOM)
        centre = rect.center()
        if legible and zoom < LEGIBLE_ZOOM:
            zoom = LEGIBLE_ZOOM
            if focus is not None and not focus.isNull():
                centre = _clamp_centre(rect, focus.center(), self.viewport().rect(), zoom)
                spans = [
                    (i.sceneBoundingRect().left(), i.sceneBoundingRect().right())
                    for i in self.node_scene.nodes.values()
                ]
                centre.setX(_whole_columns(spans, focus, self.viewport().rect(), zoom, centre.x()))
        if not zoom >= MIN_ZOOM:  # also 0 or NaN, for positions near 1e308
            # nodes far apart (a patch from elsewhere): a fit knows no floor, and the grid
            # of a view millions of units wide froze the UI for seconds (forever at 1e9)
            zoom = MIN_ZOOM
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.centerOn(centre)
        self.minimap.refresh()

    def _start_pan(self, pos: QPoint) -> None:
        self._pan_from = pos
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._start_pan(event.position().toPoint())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        from .node_item import NodeItem
        from .wire_item import WireItem

        pos = self.mapToScene(event.pos())
        item = self.itemAt(event.pos())
        if isinstance(item, WireItem):  # the wire lights up: it is the one the menu acts on
            self.node_scene.clearSelection()
            item.setSelected(True)
            wire_menu(self.node_scene, item, pos, self).exec(event.globalPos())
            return
        if self.context_menu is None:
            return
        while item is not None and not isinstance(item, NodeItem):
            item = item.parentItem()
        node_id = item.node_id if isinstance(item, NodeItem) else None
        if isinstance(item, NodeItem) and not item.isSelected():
            self.node_scene.select_nodes([item.node_id])
        menu = self.context_menu(node_id, pos)
        if menu is not None:
            menu.exec(event.globalPos())

    def _refresh_hint(self, *_args: object) -> None:
        if len(self.node_scene.nodes) <= 1:
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.node_scene.nodes:
            return
        # An empty patch says how to start, in screen space whatever the zoom.
        painter.save()
        painter.resetTransform()
        painter.setPen(QColor("#6d727a"))
        font = QFont(painter.font())
        font.setPointSizeF(12)
        painter.setFont(font)
        painter.drawText(
            self.viewport().rect(),
            int(Qt.AlignmentFlag.AlignCenter),
            "Tab (or double-click in the Nodes list) to add a node\n"
            "drop a photo or a patch here · File ▸ Examples to start from one",
        )
        painter.restore()

    # -- keys ---------------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Tab would move focus to the next widget; on the canvas it opens the node search.
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:
            self.searchRequested.emit(self.cursor_scene_pos())
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            return
        super().keyReleaseEvent(event)

    def cursor_scene_pos(self) -> QPointF:
        pos = self.viewport().mapFromGlobal(QCursor.pos())
        if not self.viewport().rect().contains(pos):
            pos = self.viewport().rect().center()
        return self.mapToScene(pos)

    def centre_scene_pos(self) -> QPointF:
        return self.mapToScene(self.viewport().rect().center())

    # -- drops --------------------------------------------------------------------------
    def _drop_kind(self, event) -> str | None:  # type: ignore[no-untyped-def]
        mime = event.mimeData()
        if mime.hasFormat(NODE_MIME):
            return "node"
        if mime.hasUrls():
            paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if any(p.suffix.lower() == ".json" for p in paths):
                return "patch"
            if any(p.suffix.lower() in READ_SUFFIXES for p in paths):
                return "images"
        return None

    def dragEnterEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._drop_kind(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._drop_kind(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        kind = self._drop_kind(event)
        pos = self.mapToScene(event.position().toPoint())
        mime = event.mimeData()
        if kind == "node":
            type_id = bytes(mime.data(NODE_MIME).data()).decode("utf-8")
            self.nodeDropped.emit(type_id, pos)
        elif kind == "patch":
            path = next(
                u.toLocalFile() for u in mime.urls() if u.toLocalFile().lower().endswith(".json")
            )
            self.patchDropped.emit(path)
        elif kind == "images":
            paths = [
                u.toLocalFile()
                for u in mime.urls()
                if Path(u.toLocalFile()).suffix.lower() in READ_SUFFIXES
            ]
            self.imagesDropped.emit(paths, pos)
        else:
            event.ignore()
            return
        event.acceptProposedAction()
