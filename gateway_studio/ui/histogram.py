"""The depth histogram under the viewer: how the selected node's depth is distributed,
with its focus / band drawn on it — and dragged there.

It shows the slot feeding the input the node's depth knobs pick from (``Picks``), and for
each such knob a marker at its value, shaded over its range when the knob has a spread
(isolate's focus ± focus_range, a band's centre ± width). Dragging a marker sets the knob,
as one undo step per drag, like a slider. Holes in the depth are not counted."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import numpy as np
from numpy.typing import NDArray
from qtpy.QtCore import QPointF, QRectF, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QWidget

from gateway_studio.engine import Depth, Field, Slot

from . import eyedropper
from .controller import EvalController
from .document import Document

BINS = 96
_GESTURES = count(1 << 20)


@dataclass(frozen=True)
class Marker:
    param: str
    value: float
    spread: float = 0.0


def histogram(slot: Slot | None) -> NDArray[np.float64] | None:
    """Bin counts of a Depth/Field over [0, 1] (measured pixels only), normalised to 1."""
    if not isinstance(slot, (Depth, Field)):
        return None
    values = slot.values
    if isinstance(slot, Depth) and slot.valid is not None:
        values = values[slot.valid]
    step = max(1, int(np.sqrt(values.size / 250_000)))  # ~250 k samples are plenty
    sample = values[::step, ::step] if values.ndim == 2 else values[:: step * step]
    counts, _ = np.histogram(sample, bins=BINS, range=(0.0, 1.0))
    peak = counts.max()
    return counts / peak if peak > 0 else counts.astype(np.float64)


class DepthHistogram(QWidget):
    #: (param, value, finished): a marker dragged (finished on release).
    markerMoved = Signal(str, float, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: NDArray[np.float64] | None = None
        self.markers: list[Marker] = []
        self._dragging: str | None = None
        self.setMinimumHeight(54)
        self.setMaximumHeight(72)
        self.setMouseTracking(True)
        self.setToolTip(
            "Depth histogram (near = right): drag a marker to move the node's focus or band"
        )
        self.setVisible(False)

    def set_data(self, counts: NDArray[np.float64] | None, markers: list[Marker]) -> None:
        self.counts, self.markers = counts, markers
        self.setVisible(counts is not None)
        self.update()

    def x_of(self, value: float) -> float:
        return 4.0 + value * (self.width() - 8.0)

    def value_at(self, x: float) -> float:
        return float(np.clip((x - 4.0) / max(1.0, self.width() - 8.0), 0.0, 1.0))

    def paintEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#141518"))
        if self.counts is None:
            return
        h = self.height() - 4.0
        bar = (self.width() - 8.0) / len(self.counts)
        for i, c in enumerate(self.counts):
            if c > 0:
                painter.fillRect(
                    QRectF(4.0 + i * bar, h - c * (h - 4), bar, c * (h - 4)), QColor("#6f7785")
                )
        for m in self.markers:
            if m.spread > 0:
                lo, hi = (
                    self.x_of(max(0.0, m.value - m.spread)),
                    self.x_of(min(1.0, m.value + m.spread)),
                )
                painter.fillRect(QRectF(lo, 0, hi - lo, h), QColor(240, 176, 74, 60))
            painter.setPen(QPen(QColor("#f0b04a"), 2))
            x = self.x_of(m.value)
            painter.drawLine(QPointF(x, 0), QPointF(x, h))

    def _near_marker(self, x: float) -> str | None:
        best = min(self.markers, key=lambda m: abs(self.x_of(m.value) - x), default=None)
        if best is None or abs(self.x_of(best.value) - x) > 8:
            return None
        return best.param

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self._dragging = self._near_marker(event.position().x())
        if self._dragging is not None:
            self.markerMoved.emit(self._dragging, self.value_at(event.position().x()), False)

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        x = event.position().x()
        if self._dragging is not None:
            self.markerMoved.emit(self._dragging, self.value_at(x), False)
        else:
            near = self._near_marker(x) is not None
            self.setCursor(Qt.CursorShape.SizeHorCursor if near else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._dragging is not None:
            self.markerMoved.emit(self._dragging, self.value_at(event.position().x()), True)
        self._dragging = None


class HistogramBinding:
    """Keeps a ``DepthHistogram`` on the selected node: its data, its markers, its drags."""

    def __init__(self, widget: DepthHistogram, doc: Document, controller: EvalController) -> None:
        self.widget, self.doc, self.controller = widget, doc, controller
        self.node_id: str | None = None
        self._gesture: int | None = None
        #: The last slot counted and its counts: a knob drag or another node's progress
        #: refreshes the markers, not the counts of a depth that has not changed.
        self._counted: tuple[Slot | None, NDArray[np.float64] | None] = (None, None)
        widget.markerMoved.connect(self._moved)
        doc.paramChanged.connect(
            lambda nid, _n, _v: self.refresh() if nid == self.node_id else None
        )
        controller.nodeStateChanged.connect(lambda _nid: self.refresh())

    def show_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        self.refresh()

    def refresh(self) -> None:
        node_id = self.node_id
        if node_id is None or node_id not in self.doc.graph:
            self.widget.set_data(None, [])
            return
        targets = eyedropper.pickable(self.doc, node_id)
        link = self.doc.graph.incoming(node_id).get(targets[0].picks or "") if targets else None
        source = self.controller.outputs.get(link[0], {}).get(link[1]) if link else None
        params = self.doc.graph.node(node_id).params
        spec = self.doc.graph.spec(node_id)
        defaults = {p.name: p.default for p in spec.params}
        markers = [
            Marker(
                p.name,
                float(params.get(p.name, p.default)),
                float(params.get(p.spread, defaults[p.spread])) if p.spread else 0.0,
            )
            for p in targets
        ]
        if source is not self._counted[0]:
            self._counted = (source, histogram(source))
        self.widget.set_data(self._counted[1], markers)

    def _moved(self, param: str, value: float, finished: bool) -> None:
        if self.node_id is None:
            return
        if self._gesture is None:
            self._gesture = next(_GESTURES)
        spec = self.doc.graph.spec(self.node_id).param(param)
        step = spec.step if spec is not None and spec.step else 0.001
        self.doc.set_param(self.node_id, param, round(value / step) * step, gesture=self._gesture)
        if finished:
            self._gesture = None
