"""A node on the canvas: family-coloured header, typed ports, live thumbnail and state."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QTextOption,
)
from qtpy.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gateway_studio.engine.node import NodeSpec
from gateway_studio.ui import theme
from gateway_studio.ui.controller import NodeState

from .geometry import FOOTER, HEADER, PAD, PORT_PX, ROW, SMALL_PX, THUMB_H, TITLE_PX, font, node_box
from .port_item import PortItem

if TYPE_CHECKING:
    from .scene import NodeScene

NODE_Z = 1.0
SELECTED_Z = 2.0
#: The evaluator's message for a node whose required inputs are not wired.
UNWIRED = "required input not connected"
#: Messages on a node wrap between words (a long path may still break anywhere).
WRAP = QTextOption(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
WRAP.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)


class NodeItem(QGraphicsItem):
    def __init__(self, scene: NodeScene, node_id: str, spec: NodeSpec) -> None:
        super().__init__()
        self.node_scene = scene
        self.node_id = node_id
        self.spec = spec
        self.title = ""
        self.bypassed = False
        #: Bypass hands an input to the outputs: a node without inputs cannot be bypassed.
        self.can_bypass = bool(spec.inputs)
        self.state = NodeState()
        #: What the footer and tooltip last showed of the state (``set_state``).
        self._shown: tuple[object, ...] | None = None
        self.thumbnail: QImage | None = None
        box = node_box(spec)
        self.width = box.width
        self.has_picture = box.has_picture
        self.writes = spec.writes_files
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.ports_top = box.ports_top
        for i, inp in enumerate(spec.inputs):
            port = PortItem(self, inp.name, inp.type_name, is_input=True, optional=inp.optional)
            port.setPos(0, self.ports_top + ROW * i + ROW / 2)
            self.inputs[inp.name] = port
        for out in spec.outputs:
            port = PortItem(self, out.name, out.type_name, is_input=False)
            self.outputs[out.name] = port
        self.thumb_top = box.thumb_top
        self.height = box.height
        self._place_outputs()
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(NODE_Z)
        # Painted into a pixmap once per change of what it shows (every setter below calls
        # update()); a repaint of the canvas around it (a neighbour's status, a wire) then
        # blits it: a drag step repaints ~3 nodes, each 2-3 ms to draw afresh.
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._update_tooltip()

    # -- geometry -----------------------------------------------------------------------
    def _place_outputs(self) -> None:
        for i, port in enumerate(self.outputs.values()):
            port.setPos(self.width, self.ports_top + ROW * i + ROW / 2)

    def _resize_to(self, title: str) -> None:
        """Sized to its content: a longer title widens the node (up to a limit)."""
        width = node_box(self.spec, title).width
        if width != self.width:
            self.prepareGeometryChange()
            self.width = width
            self._place_outputs()
            self.node_scene.node_moved(self)  # its output wires start elsewhere now

    def boundingRect(self) -> QRectF:
        return QRectF(-8, -8, self.width + 16, self.height + 16)

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, self.width, self.height)

    def scene_body(self) -> QRectF:
        """The node's body in scene coordinates (what a wire must never cross)."""
        return self.body_rect().translated(self.pos())

    def bypass_rect(self) -> QRectF:
        return QRectF(self.width - 23, 8, 15, 15)

    def title_rect(self) -> QRectF:
        return QRectF(PAD, 0, self.width - PAD - 30, HEADER)

    def shown_title(self) -> str:
        return self.title or self.node_id

    def title_elided(self) -> bool:
        metrics = QFontMetricsF(font(TITLE_PX, bold=True))
        return metrics.horizontalAdvance(self.shown_title()) > self.title_rect().width()

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body_rect(), 6, 6)
        return path

    def ports(self) -> list[PortItem]:
        return [*self.inputs.values(), *self.outputs.values()]

    def is_port_connected(self, port: PortItem) -> bool:
        return self.node_scene.port_connected(port)

    #: What lands on a grid line when snapping (a node's corner; a dot's centre).
    snap_offset = 0.0

    def itemChange(self, change, value):  # type: ignore[no-untyped-def]
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange:
            value = self.node_scene.snapped(self, value)
        elif change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.node_scene.node_moved(self)
        elif change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            # the selected node is drawn above the ones it overlaps (and grabs clicks there)
            self.setZValue(SELECTED_Z if self.isSelected() else NODE_Z)
        return super().itemChange(change, value)

    # -- state --------------------------------------------------------------------------
    def set_title(self, title: str) -> None:
        self.title = title
        self._resize_to(self.shown_title())
        self._update_tooltip()
        self.update()

    def set_bypass(self, bypassed: bool) -> None:
        self.bypassed = bypassed
        self.setOpacity(0.65 if bypassed else 1.0)
        self.update()

    def set_state(self, state: NodeState) -> None:
        """Show ``state``; repainted (and the tooltip rebuilt) only when what they show
        changed: a drag step reports every node, and most only say "cached" again."""
        self.state = state
        shown = (
            self.status_text()[0],
            state.status,
            state.message,
            round(state.progress, 2),
            state.reason,
            state.notes,
        )
        if shown == self._shown:
            return
        self._shown = shown
        self._update_tooltip()
        self.update()

    def set_thumbnail(self, image: QImage | None) -> None:
        self.thumbnail = image
        self.update()

    def _update_tooltip(self) -> None:
        st = self.state
        head = f"<b>{_escape(self.shown_title())}</b><br>{self.node_id} ({self.spec.type_id})"
        if st.status in ("failed", "skipped") and st.message:
            colour = theme.ERROR if st.status == "failed" and not self.needs_input else theme.MUTED
            body = f"<span style='color:{colour}'>{_escape(st.message)}</span>"
        else:
            body = _escape(self.spec.help)
        reason = getattr(st, "reason", "")
        why = f"<br><i>re-ran: {_escape(reason)}</i>" if reason and st.status == "computed" else ""
        notes = "".join(f"<br>• {_escape(n)}" for n in st.notes)
        self.setToolTip(f"{head}<br>{body}{why}{notes}")

    @property
    def needs_input(self) -> bool:
        """Failed only because an input is not wired yet: a to-do, not an error."""
        st = self.state
        return st.status == "failed" and st.message.startswith(UNWIRED)

    def status_text(self) -> tuple[str, QColor]:
        st = self.state
        if self.needs_input:
            missing = st.message[len(UNWIRED) :].strip(" :")
            return f"connect {missing}", QColor(theme.MUTED)
        if self.bypassed:
            return "bypassed", QColor("#d8b04a")
        if st.status == "computing":
            msg = f" {st.message}" if st.message else ""
            return f"computing {st.progress * 100:.0f}%{msg}", QColor("#6aa8f0")
        if st.status == "computed":
            tag = " · preview" if st.preview else ""
            return f"computed · {_ms(st.seconds)}{tag}", QColor(theme.OK)
        if st.status == "cached":
            return "cached", QColor("#7fae86")
        if st.status == "failed":
            return "error (hover for details)", QColor(theme.ERROR)
        if st.status == "skipped":
            return "waiting for upstream", QColor(theme.MUTED)
        if st.status == "cancelled":
            return "cancelled", QColor(theme.MUTED)
        if self.writes:
            return "writes on Export / Render", QColor(theme.MUTED)
        return "", QColor(theme.MUTED)

    # -- painting -----------------------------------------------------------------------
    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        body = self.body_rect()
        unwired = self.needs_input
        failed = self.state.status == "failed" and not unwired
        # body
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 70))
        painter.drawRoundedRect(body.translated(3, 4), 6, 6)
        painter.setBrush(QColor(theme.NODE_BODY))
        painter.drawRoundedRect(body, 6, 6)
        # header
        header = QPainterPath()
        width = self.width
        header.addRoundedRect(QRectF(0, 0, width, HEADER), 6, 6)
        header.addRect(QRectF(0, HEADER / 2, width, HEADER / 2))
        color = theme.family_color(self.spec.family)
        if self.bypassed:
            color = QColor("#4a4a4a")
        if failed:
            color = QColor("#7a2a26")
        painter.fillPath(header.simplified(), QBrush(color))
        painter.setPen(QColor(theme.NODE_TEXT))
        painter.setFont(font(TITLE_PX, bold=True))
        rect = self.title_rect()
        painter.drawText(
            rect,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            painter.fontMetrics().elidedText(
                self.shown_title(), Qt.TextElideMode.ElideRight, int(rect.width())
            ),
        )
        # bypass toggle (a source has no input to pass through: no toggle)
        br = self.bypass_rect()
        painter.setPen(QPen(QColor("#d0d3d8"), 1.2))
        painter.setBrush(QColor("#d8b04a") if self.bypassed else QColor(0, 0, 0, 60))
        if self.can_bypass or self.bypassed:
            painter.drawRoundedRect(br, 3, 3)
        if self.bypassed:
            painter.setPen(QPen(QColor("#1d1f22"), 1.6))
            painter.drawLine(br.topLeft() + QPointF(3, 3), br.bottomRight() - QPointF(3, 3))
        # computing progress along the header's foot
        if self.state.status == "computing":
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#1b1d20"))
            painter.drawRect(QRectF(0, HEADER - 3, width, 3))
            painter.setBrush(QColor("#6aa8f0"))
            painter.drawRect(QRectF(0, HEADER - 3, width * max(self.state.progress, 0.04), 3))
        # port labels
        port_font = font(PORT_PX)
        painter.setFont(port_font)
        painter.setPen(QColor("#c8ccd2"))
        for port in self.inputs.values():
            y = port.pos().y()
            painter.drawText(
                QRectF(14, y - ROW / 2, width - 28, ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                port.name,
            )
        for port in self.outputs.values():
            y = port.pos().y()
            painter.drawText(
                QRectF(14, y - ROW / 2, width - 28, ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                port.name,
            )
        small_font = font(SMALL_PX)
        painter.setFont(small_font)
        # thumbnail
        if self.has_picture:
            box = QRectF(PAD, self.thumb_top, width - 2 * PAD, THUMB_H - 4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#16181b"))
            painter.drawRoundedRect(box, 3, 3)
            if self.thumbnail is not None and not self.thumbnail.isNull():
                w, h = self.thumbnail.width(), self.thumbnail.height()
                scale = min(box.width() / w, box.height() / h)
                target = QRectF(0, 0, w * scale, h * scale)
                target.moveCenter(box.center())
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                if self.state.status in ("failed", "skipped"):
                    painter.setOpacity(0.3)
                painter.drawImage(target, self.thumbnail)
                painter.setOpacity(1.0)
            # the reason in the box — except for missing inputs, which the footer names
            if self.state.status in ("failed", "skipped") and self.state.message and not unwired:
                # the reason, readable on the node itself (full text on hover)
                painter.setPen(QColor("#ff8a80") if failed else QColor(theme.MUTED))
                text = brief_message(self.state.message)[:240]
                painter.drawText(box.adjusted(6, 4, -6, -4), text, WRAP)
        # footer: state
        text, tcolor = self.status_text()
        painter.setPen(tcolor)
        footer = QRectF(PAD, self.height - FOOTER - 3, width - 2 * PAD, FOOTER)
        painter.drawText(
            footer,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            painter.fontMetrics().elidedText(
                text, Qt.TextElideMode.ElideRight, int(footer.width())
            ),
        )
        # outline: selection or error
        if self.isSelected() or failed:
            pen = QPen(QColor(theme.SELECTED if self.isSelected() else theme.ERROR), 2.0)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(body.adjusted(-1, -1, 1, 1), 7, 7)

    # -- mouse --------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if (
            event.button() == Qt.MouseButton.LeftButton
            and (self.can_bypass or self.bypassed)
            and self.bypass_rect().contains(event.pos())
        ):
            self.node_scene.doc.set_bypass(self.node_id, not self.bypassed)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.node_scene.nodeDoubleClicked.emit(self.node_id)
        super().mouseDoubleClickEvent(event)


def brief_message(message: str) -> str:
    """What fits on a node: the first sentence, and the command that fixes it when the
    message names one (a missing model: ``gateway-studio models pull NAME``). The whole
    message stays in the tooltip and the viewer."""
    fix = re.search(r"gateway-studio models pull \S+", message)
    if fix is None:
        return message
    first = message.strip().splitlines()[0]
    head = re.split(r"(?<=\.)\s", first, maxsplit=1)[0]
    return f"{head}\nGet it with: {fix.group(0)}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
