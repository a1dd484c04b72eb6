"""The viewer: the selected node's output large, with zoom/pan, 1:1, fit, a slot picker,
false colour for depth and fields, and a readout of the value under the cursor."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QFontMetrics, QPainter, QPixmap
from qtpy.QtWidgets import (
    QComboBox,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gateway_studio.engine.slots import Depth, Field, Slot

from . import display
from .histogram import DepthHistogram
from .worker import ViewImage


class ImageView(QGraphicsView):
    hovered = Signal(int, int)  # image pixel under the cursor (-1, -1 outside)
    zoomChanged = Signal(float)
    #: A pick: relative position (0..1, 0..1) of a click in the picture (eyedropper mode,
    #: or Ctrl+click).
    picked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setBackgroundBrush(QColor("#141518"))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMouseTracking(True)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fit_mode = True
        #: Eyedropper armed: the next click picks instead of panning.
        self.picking = False

    def set_picking(self, on: bool) -> None:
        self.picking = on
        self.setDragMode(
            QGraphicsView.DragMode.NoDrag if on else QGraphicsView.DragMode.ScrollHandDrag
        )
        self.viewport().setCursor(
            Qt.CursorShape.CrossCursor if on else Qt.CursorShape.OpenHandCursor
        )

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        pixmap = self.item.pixmap()
        if (self.picking or ctrl) and not pixmap.isNull():
            pos: QPointF = self.mapToScene(event.position().toPoint())
            fx, fy = pos.x() / pixmap.width(), pos.y() / pixmap.height()
            if 0.0 <= fx < 1.0 and 0.0 <= fy < 1.0:
                self.picked.emit(fx, fy)
                event.accept()
                return
        super().mousePressEvent(event)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        size_changed = pixmap.size() != self.item.pixmap().size()
        self.item.setPixmap(pixmap)
        self.scene().setSceneRect(QRectF(pixmap.rect()).adjusted(-2000, -2000, 2000, 2000))
        if self.fit_mode or size_changed:
            self.fit()

    def clear(self) -> None:
        self.item.setPixmap(QPixmap())

    def fit(self) -> None:
        self.fit_mode = True
        if not self.item.pixmap().isNull():
            self.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.transform().m11())

    def one_to_one(self) -> None:
        self.fit_mode = False
        self.resetTransform()
        self.centerOn(self.item)
        self.zoomChanged.emit(1.0)

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        if self.fit_mode:
            self.fit()

    def wheelEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        delta = event.angleDelta().y()
        if delta:
            self.fit_mode = False
            factor = 1.0015**delta
            zoom = self.transform().m11() * factor
            if 0.02 < zoom < 64:
                self.scale(factor, factor)
                self.zoomChanged.emit(self.transform().m11())
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().mouseMoveEvent(event)
        pos: QPointF = self.mapToScene(event.position().toPoint())
        self.hovered.emit(int(pos.x()), int(pos.y()))

    def leaveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().leaveEvent(event)
        self.hovered.emit(-1, -1)


class ElidedLabel(QLabel):
    """A one-line caption that gives way to the controls beside it: it shrinks with an
    ellipsis (the whole text in its tooltip) instead of running into them."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
    ) -> None:
        super().__init__(parent)
        self.full_text = ""
        self.mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = QFontMetrics(self.font())
        self.setText(metrics.elidedText(self.full_text, self.mode, max(self.width(), 40)))


class Viewer(QWidget):
    #: The user picked another slot or colour map: (slot name, colormap).
    optionsChanged = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view_image: ViewImage | None = None
        self.slot: Slot | None = None
        #: A node's title for the caption (the window sets it; ids otherwise).
        self.title_of: Callable[[str], str] = lambda node_id: ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 0, 6, 4)
        bar.setSpacing(6)
        # the caption has a row of its own: beside the controls a narrow viewer cut the
        # node's name to a few letters
        self.caption = ElidedLabel("", mode=Qt.TextElideMode.ElideRight)
        self.caption.setContentsMargins(8, 4, 8, 2)
        bold = self.caption.font()
        bold.setBold(True)
        self.caption.setFont(bold)
        self.slot_box = QComboBox()
        self.slot_box.setToolTip("Which output of the node to show")
        self.slot_box.setMinimumWidth(90)
        self.colormap_box = QComboBox()
        self.colormap_box.addItems(["gray", "turbo"])
        self.colormap_box.setToolTip(
            "Depth and fields: grayscale (lighter = nearer / more) or false colour"
        )
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the picture in the viewer")
        self.one_button = QToolButton()
        self.one_button.setText("1:1")
        self.one_button.setToolTip("One image pixel per screen pixel")
        self.pick_button = QToolButton()
        self.pick_button.setText("Pick")
        self.pick_button.setCheckable(True)
        self.pick_button.setShortcut("I")
        self.pick_button.setToolTip(
            "Eyedropper (I, or Ctrl+click): click the picture to set the selected node's "
            "depth knob — isolate's focus, atmosphere's start, a band's centre — to the "
            "depth under the cursor (one undo step)"
        )
        self.zoom_label = QLabel("")
        self.zoom_label.setObjectName("muted")
        layout.addWidget(self.caption)
        bar.addStretch(1)
        bar.addWidget(QLabel("slot"))
        bar.addWidget(self.slot_box)
        bar.addWidget(self.colormap_box)
        bar.addWidget(self.pick_button)
        bar.addWidget(self.fit_button)
        bar.addWidget(self.one_button)
        bar.addWidget(self.zoom_label)
        layout.addLayout(bar)
        self.image_view = ImageView()
        layout.addWidget(self.image_view, 1)
        self.message = QLabel("Select a node to see its output")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setObjectName("muted")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        #: A standing note about the patch (a photo without depth says how to get it).
        self.note = QLabel("")
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setStyleSheet(
            "#note { background: #3a3322; color: #f0dca0; padding: 8px; border-radius: 3px; }"
        )
        self.note.setVisible(False)
        layout.addWidget(self.note)
        self.readout = QLabel(" ")
        self.readout.setObjectName("muted")
        self.readout.setContentsMargins(8, 2, 8, 4)
        layout.addWidget(self.readout)
        #: The selected node's depth, binned, with its focus / band (the window binds it).
        self.histogram = DepthHistogram()
        layout.addWidget(self.histogram)
        self.pick_button.toggled.connect(self.image_view.set_picking)
        # one pick per arming, like a paint program's eyedropper
        self.image_view.picked.connect(lambda _x, _y: self.pick_button.setChecked(False))
        self.fit_button.clicked.connect(self.image_view.fit)
        self.one_button.clicked.connect(self.image_view.one_to_one)
        self.image_view.hovered.connect(self._hovered)
        self.image_view.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        # any change, by click, keys or wheel (the wheel emits no 'activated': the combo
        # then said 'turbo' over a gray picture); show_view blocks signals when it sets it
        self.slot_box.currentIndexChanged.connect(self._options_changed)
        self.colormap_box.currentIndexChanged.connect(self._options_changed)

    @property
    def colormap(self) -> str:
        return self.colormap_box.currentText()

    def _options_changed(self, _index: int = 0) -> None:
        self.optionsChanged.emit(self.slot_box.currentText(), self.colormap)

    def show_view(self, view: ViewImage | None, message: str = "") -> None:
        self.view_image = view
        if view is None:
            self.slot = None
            if message:
                self.image_view.clear()
                self.message.setText(message)
                self.message.setVisible(True)
            return
        self.slot = view.slot
        self.message.setVisible(False)
        self.image_view.set_pixmap(QPixmap.fromImage(view.image))
        self.slot_box.blockSignals(True)
        if [self.slot_box.itemText(i) for i in range(self.slot_box.count())] != list(view.slots):
            self.slot_box.clear()
            self.slot_box.addItems(list(view.slots))
        self.slot_box.setCurrentText(view.slot_name)
        self.slot_box.blockSignals(False)
        self.slot_box.setEnabled(len(view.slots) > 1)
        # false colour applies to scalar fields (depth, fields, masks) only
        self.colormap_box.setEnabled(isinstance(view.slot, (Depth, Field)))
        self._caption(view)

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def retitle(self, node_id: str) -> None:
        """The node was renamed: a title is not an evaluation, so no new picture comes."""
        if self.view_image is not None and self.view_image.node_id == node_id:
            self._caption(self.view_image)

    def _caption(self, view: ViewImage) -> None:
        h, w = view.slot.size or (view.image.height(), view.image.width())
        title = self.title_of(view.node_id)
        self.caption.set_full_text(
            f"{title or view.node_id} · {view.slot.type_name} {w}×{h}"  # slot: the picker
        )
        if title:  # the id is what wires and files use: keep it one hover away
            self.caption.setToolTip(f"{title} ({view.node_id}) · {self.caption.full_text}")

    def clear_for(self, node_id: str | None) -> None:
        self.view_image = None
        self.slot = None
        self.image_view.clear()
        self.caption.set_full_text(node_id or "")
        self.message.setText("evaluating…" if node_id else "Select a node to see its output")
        self.message.setVisible(True)

    def _hovered(self, x: int, y: int) -> None:
        if self.slot is None or x < 0:
            self.readout.setText(" ")
            return
        text = display.readout(self.slot, x, y)
        self.readout.setText(f"x {x}, y {y} · {text}" if text else " ")

    def value_at(self, x: int, y: int) -> str:
        return display.readout(self.slot, x, y) if self.slot is not None else ""
