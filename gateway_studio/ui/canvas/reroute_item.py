"""A reroute point on the canvas: a ``util.reroute_*`` node drawn as a dot in its wire's
colour, its input and output ports at its centre. It is moved, selected, deleted, copied
and undone like any node (it is one, in the patch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QStyleOptionGraphicsItem, QWidget

from gateway_studio.engine.graph import Link, PatchGraph
from gateway_studio.engine.node import NodeSpec
from gateway_studio.ui import theme

from .node_item import NodeItem

if TYPE_CHECKING:
    from .scene import NodeScene

#: Type ids drawn as dots (``nodes/util.py`` declares one per slot type).
REROUTE_PREFIX = "util.reroute_"
#: The dot's size in scene pixels (grabbable, smaller than any node).
SIZE = 18.0


def is_reroute(type_id: str) -> bool:
    return type_id.startswith(REROUTE_PREFIX)


class RerouteItem(NodeItem):
    snap_offset = SIZE / 2

    def __init__(self, scene: NodeScene, node_id: str, spec: NodeSpec) -> None:
        super().__init__(scene, node_id, spec)
        self.can_bypass = False
        self.width = self.height = SIZE
        self.has_picture = False
        for port in self.ports():
            port.setPos(SIZE / 2, SIZE / 2)
            port.setVisible(False)  # the dot itself is the port (see mousePressEvent)
        self.setToolTip(
            f"reroute ({spec.outputs[0].type_name}) · drag to move · "
            "Alt+drag: another wire from it · Delete gives the wire back"
        )

    def _place_outputs(self) -> None:
        for port in self.outputs.values():
            port.setPos(SIZE / 2, SIZE / 2)

    def _resize_to(self, title: str) -> None:
        return  # a dot has no title to fit

    def _update_tooltip(self) -> None:
        return  # set once in __init__: a dot has no state worth a tooltip

    def boundingRect(self) -> QRectF:
        return QRectF(-4, -4, SIZE + 8, SIZE + 8)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.body_rect())
        return path

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        color = QColor(theme.slot_color(self.spec.outputs[0].type_name))
        pen = QPen(QColor(theme.SELECTED) if self.isSelected() else QColor("#15171a"), 2.0)
        painter.setPen(pen)
        painter.setBrush(color)
        painter.drawEllipse(self.body_rect().adjusted(2, 2, -2, -2))

    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        # Alt+drag starts a new wire from the dot's output (a plain drag moves the dot).
        if event.button() == Qt.MouseButton.LeftButton and (
            event.modifiers() & Qt.KeyboardModifier.AltModifier
        ):
            self.node_scene.begin_drag(self.outputs["value"])
            event.accept()
            return
        super(NodeItem, self).mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        event.accept()  # not the inspector: a reroute has no knobs


def insert_reroute(scene: NodeScene, link: Link, at: QPointF) -> str | None:
    """Put a reroute dot on ``link`` centred at ``at``: one undo step, the same source
    feeding the same input through it. Returns the dot's node id, or None (said in the
    status bar) when no reroute type carries the wire's slot."""
    doc = scene.doc
    slot = doc.graph.spec(link.src).output(link.src_slot)
    if slot is None:
        return None
    type_id = REROUTE_PREFIX + slot.type_name.lower()
    if type_id not in doc.registry:
        scene.message.emit(f"no reroute node for a {slot.type_name} wire ({type_id})")
        return None
    with doc.macro("Insert reroute"):
        node_id = doc.add_node(type_id, position=(at.x() - SIZE / 2, at.y() - SIZE / 2))
        doc.unlink(link.dst, link.dst_slot)
        doc.link(link.src, link.src_slot, node_id, "value")
        doc.link(node_id, "value", link.dst, link.dst_slot)
    scene.message.emit(f"reroute inserted on {link}")
    return node_id


def rejoined_links(graph: PatchGraph, deleted: list[str]) -> list[Link]:
    """The wires to draw again when ``deleted`` nodes go: each deleted reroute dot's
    source, followed through a chain of deleted dots, straight to every kept input the
    dots fed (deleting a dot must not cut the wire it sat on)."""
    gone = set(deleted)

    def source(node_id: str) -> tuple[str, str] | None:
        seen: set[str] = set()
        while node_id in gone and is_reroute(graph.spec(node_id).type_id):
            if node_id in seen:
                return None
            seen.add(node_id)
            incoming = graph.incoming(node_id).get("value")
            if incoming is None:
                return None
            node_id, slot = incoming
            if node_id not in gone:
                return node_id, slot
        return None

    out: list[Link] = []
    for link in graph.links():
        if link.src in gone and link.dst not in gone:
            src = source(link.src)
            if src is not None:
                out.append(Link(src[0], src[1], link.dst, link.dst_slot))
    return out
