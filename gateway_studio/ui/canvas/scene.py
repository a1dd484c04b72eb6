"""The canvas model-view: mirrors a Document as items and turns gestures into edits.

Items never edit the graph; the scene calls Document methods (which push undo commands)
and redraws from the Document's signals. Dragging from a port makes a connection; the
ports that would accept it light up and the others dim; a refused drop shows the graph's
reason in the status bar. Dragging a connected input's wire away disconnects it.
"""

from __future__ import annotations

from qtpy.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from qtpy.QtGui import QColor, QPainter, QPen
from qtpy.QtWidgets import QGraphicsScene

from gateway_studio.engine.errors import GraphError
from gateway_studio.engine.graph import Link
from gateway_studio.ui import theme
from gateway_studio.ui.controller import EvalController
from gateway_studio.ui.document import Document

from .backdrop_item import BackdropItem
from .node_item import NodeItem
from .port_item import PortItem
from .reroute_item import RerouteItem, is_reroute, rejoined_links
from .spatial import Rect
from .wire_item import DragWire, WireItem
from .wiring import WireRouter, rect_of

GRID = 20
MAJOR = 5
#: The canvas's extent, grown round nodes beyond it (with this much room to spare).
SCENE_RECT = QRectF(-50_000, -50_000, 100_000, 100_000)
SCENE_PAD = 5_000.0


class NodeScene(QGraphicsScene):
    #: A message for the status bar (refused connections, hints).
    message = Signal(str)
    nodeDoubleClicked = Signal(str)

    def __init__(
        self, doc: Document, controller: EvalController | None = None, parent: object = None
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.controller = controller
        self.nodes: dict[str, NodeItem] = {}
        self.wires: dict[tuple[str, str], WireItem] = {}
        self.backdrop_items: list[BackdropItem] = []
        self._drag: DragWire | None = None
        #: Nodes the user drags land on the grid (View ▸ Snap to grid).
        self.snap_to_grid = True
        self._detached: Link | None = None
        #: Keeps the wires routed round the nodes (``wiring.py``).
        self.router = WireRouter(self)
        self.setSceneRect(SCENE_RECT)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        doc.nodeAdded.connect(self._on_node_added)
        doc.nodeRemoved.connect(self._on_node_removed)
        doc.linkAdded.connect(self._on_link_added)
        doc.linkRemoved.connect(self._on_link_removed)
        doc.nodeMoved.connect(self._on_node_moved)
        doc.bypassChanged.connect(self._on_bypass)
        doc.titleChanged.connect(lambda nid, t: self.nodes[nid].set_title(t))
        doc.backdropsChanged.connect(self._sync_backdrops)
        doc.reset.connect(self.rebuild)
        if controller is not None:
            controller.nodeStateChanged.connect(self._on_state)
            controller.thumbnailChanged.connect(self._on_thumbnail)
        self.rebuild()

    # -- mirror the document ------------------------------------------------------------
    def rebuild(self) -> None:
        self._cancel_drag()
        for item in [*self.wires.values(), *self.nodes.values(), *self.backdrop_items]:
            self.removeItem(item)
        self.nodes.clear()
        self.wires.clear()
        self.backdrop_items.clear()
        self._sync_backdrops()
        with self.router.build():  # every wire routed once, when all nodes are in place
            for node_id in self.doc.node_ids():
                self._on_node_added(node_id)
            for link in self.doc.graph.links():
                self._on_link_added(link)
        self.fit_scene_rect()

    def _on_node_added(self, node_id: str) -> None:
        inst = self.doc.graph.node(node_id)
        spec = self.doc.graph.spec(node_id)
        kind = RerouteItem if is_reroute(spec.type_id) else NodeItem
        item = kind(self, node_id, spec)
        item.set_title(inst.title)
        item.set_bypass(inst.bypass)
        x, y = inst.position or (0.0, 0.0)
        item.setPos(x, y)
        self.addItem(item)
        self.nodes[node_id] = item
        self.router.node_placed(item)

    def _on_node_removed(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is not None:
            self.removeItem(item)
            self.router.node_removed(node_id)

    def _on_link_added(self, link: Link) -> None:
        src, dst = self.nodes.get(link.src), self.nodes.get(link.dst)
        if src is None or dst is None:
            return
        wire = WireItem(link, src.outputs[link.src_slot], dst.inputs[link.dst_slot])
        self.addItem(wire)
        self.wires[(link.dst, link.dst_slot)] = wire
        self.router.route([wire])
        wire.src.update()
        wire.dst.update()

    def _on_link_removed(self, link: Link) -> None:
        wire = self.wires.pop((link.dst, link.dst_slot), None)
        if wire is not None:
            self.removeItem(wire)
            wire.src.update()
            wire.dst.update()

    def _on_node_moved(self, node_id: str, x: float, y: float) -> None:
        item = self.nodes.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != (x, y):
            item.setPos(x, y)

    def _on_bypass(self, node_id: str, bypass: bool) -> None:
        self.nodes[node_id].set_bypass(bypass)
        for wire in self.wires.values():
            if node_id in (wire.link.src, wire.link.dst):
                wire._apply_pen()

    def _on_state(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None and self.controller is not None:
            item.set_state(self.controller.state(node_id))

    def _on_thumbnail(self, node_id: str, image: object) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.set_thumbnail(image)  # type: ignore[arg-type]

    def _sync_backdrops(self) -> None:
        backdrops = self.doc.graph.backdrops
        while len(self.backdrop_items) > len(backdrops):
            self.removeItem(self.backdrop_items.pop())
        for i, backdrop in enumerate(backdrops):
            if i < len(self.backdrop_items):
                self.backdrop_items[i].sync(backdrop)
            else:
                item = BackdropItem(self, i, backdrop)
                self.addItem(item)
                self.backdrop_items.append(item)

    # -- queries used by items and tests ------------------------------------------------
    def node_item(self, node_id: str) -> NodeItem:
        return self.nodes[node_id]

    def port(self, node_id: str, name: str, *, output: bool) -> PortItem:
        item = self.nodes[node_id]
        return item.outputs[name] if output else item.inputs[name]

    def port_connected(self, port: PortItem) -> bool:
        if port.is_input:
            return (port.node_id, port.name) in self.wires
        return any(w.src is port for w in self.wires.values())

    def bodies(self) -> list[Rect]:
        """Every node's body in scene coordinates: what wires route around."""
        return [rect_of(item.scene_body()) for item in self.nodes.values()]

    def snapped(self, item: NodeItem, pos: QPointF) -> QPointF:
        """Where a node the user is dragging lands: on the grid when snapping is on. Only
        a drag snaps; a patch's own positions (open, undo, layout) are kept as they are."""
        dragging = isinstance(self.mouseGrabberItem(), NodeItem) and item.isSelected()
        if not self.snap_to_grid or not dragging:
            return pos
        off = item.snap_offset
        x = round((pos.x() + off) / GRID) * GRID - off
        y = round((pos.y() + off) / GRID) * GRID - off
        return QPointF(x, y)

    def node_moved(self, item: NodeItem) -> None:
        self.router.node_placed(item)  # its wires now, the others near it soon
        self.fit_scene_rect(item.sceneBoundingRect())

    def reroute_all(self) -> None:
        self.router.reroute_all()

    def fit_scene_rect(self, rect: QRectF | None = None) -> None:
        """Room to scroll to every node: the canvas grows round a patch larger than it
        (a 2000-node chain is a million units wide), never shrinks below its default."""
        rect = self.items_rect() if rect is None else rect
        if rect.isNull() or self.sceneRect().contains(rect):
            return
        grown = rect.adjusted(-SCENE_PAD, -SCENE_PAD, SCENE_PAD, SCENE_PAD)
        self.setSceneRect(self.sceneRect().united(grown))

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        # one selectionChanged for the whole group: the inspector and viewer used to flick
        # through the first node of a Select all / paste
        self.blockSignals(True)
        try:
            self.clearSelection()
            for node_id in node_ids:
                if node_id in self.nodes:
                    self.nodes[node_id].setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def items_rect(self, selected_only: bool = False) -> QRectF:
        items = (
            self.selectedItems() if selected_only else [*self.nodes.values(), *self.backdrop_items]
        )
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def free_spot(self, x: float, y: float, type_id: str) -> tuple[float, float]:
        """(x, y), moved down until a new ``type_id`` node there covers no other node."""
        spec = self.doc.registry.get(type_id)
        probe = NodeItem(self, "", spec)  # never added: only its size is wanted
        w, h = probe.body_rect().width(), probe.body_rect().height()
        bodies = [i.sceneBoundingRect() for i in self.nodes.values()]
        for _ in range(200):
            want = QRectF(x, y, w, h).adjusted(-12, -12, 12, 12)
            hits = [r for r in bodies if r.intersects(want)]
            if not hits:
                break
            y = max(r.bottom() for r in hits) + 20.0
        return x, y

    # -- edits --------------------------------------------------------------------------
    def try_connect(self, a: PortItem, b: PortItem) -> str | None:
        """Connect two ports (either order). Returns None, or the reason it was refused."""
        if a.is_input == b.is_input:
            reason = "connect an output (right side) to an input (left side)"
        else:
            out, inp = (b, a) if a.is_input else (a, b)
            try:
                link = self.doc.link(out.node_id, out.name, inp.node_id, inp.name)
            except GraphError as exc:
                reason = str(exc)
            else:
                self.message.emit(f"connected {link}")
                return None
        self.message.emit(f"refused: {reason}")
        self._flash(b)
        return reason

    def _flash(self, port: PortItem) -> None:
        port.set_hint(False)
        QTimer.singleShot(700, self, self._clear_hints)  # the scene as context: safe if it goes

    def _clear_hints(self) -> None:
        if self._drag is None:
            for node in self.nodes.values():
                for p in node.ports():
                    p.set_hint(None)

    def delete_selection(self) -> None:
        nodes = self.selected_node_ids()
        wires = [
            i.link
            for i in self.selectedItems()
            if isinstance(i, WireItem) and i.link.src not in nodes and i.link.dst not in nodes
        ]
        backdrops = sorted(
            (i.index for i in self.selectedItems() if isinstance(i, BackdropItem)), reverse=True
        )
        if not (nodes or wires or backdrops):
            return
        rejoin = rejoined_links(self.doc.graph, nodes)
        with self.doc.macro("Delete"):
            for link in wires:
                self.doc.unlink(link.dst, link.dst_slot)
            self.doc.remove_nodes(nodes)
            for link in rejoin:  # a deleted reroute dot gives its wire back
                self.doc.link(link.src, link.src_slot, link.dst, link.dst_slot)
            for index in backdrops:
                self.doc.remove_backdrop(index)

    # -- wire dragging ------------------------------------------------------------------
    def _port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
                return item
            if isinstance(item, RerouteItem):  # a dot's hidden ports: the dot is the port
                from_output = self._drag is not None and not self._drag.anchor.is_input
                return item.inputs["value"] if from_output else item.outputs["value"]
        # forgiving drop: the nearest port within a few pixels
        near = [
            i
            for i in self.items(QRectF(pos.x() - 8, pos.y() - 8, 16, 16))
            if isinstance(i, PortItem)
        ]
        return near[0] if near else None

    def begin_drag(self, port: PortItem) -> None:
        anchor = port
        self._detached = None
        if port.is_input and (port.node_id, port.name) in self.wires:
            wire = self.wires[(port.node_id, port.name)]
            self._detached = wire.link
            wire.setVisible(False)
            anchor = wire.src
        self._drag = DragWire(anchor)
        self.addItem(self._drag)
        self._drag.follow(port.scenePos())
        for node in self.nodes.values():
            for other in node.ports():
                other.set_hint(self._would_accept(anchor, other))

    def _would_accept(self, anchor: PortItem, other: PortItem) -> bool | None:
        if other is anchor:
            return None
        if other.is_input == anchor.is_input:
            return False
        out, inp = (other, anchor) if anchor.is_input else (anchor, other)
        detached = self._detached
        try:
            if detached is not None and (inp.node_id, inp.name) == (
                detached.dst,
                detached.dst_slot,
            ):
                return True
            self.doc.check_link(Link(out.node_id, out.name, inp.node_id, inp.name))
        except GraphError:
            return False
        return True

    def _cancel_drag(self) -> None:
        if self._drag is not None:
            self.removeItem(self._drag)
            self._drag = None
        for node in self.nodes.values():
            for port in node.ports():
                port.set_hint(None)

    def abort_drag(self) -> bool:
        """Esc during a wire drag: drop it and leave the patch as it was (a wire pulled off
        an input goes back). False if no drag was in progress."""
        if self._drag is None:
            return False
        detached = self._detached
        self._cancel_drag()
        self._detached = None
        if detached is not None:
            restore = self.wires.get((detached.dst, detached.dst_slot))
            if restore is not None:
                restore.setVisible(True)
        return True

    def finish_drag(self, target: PortItem | None) -> None:
        drag, detached = self._drag, self._detached
        self._cancel_drag()
        self._detached = None
        if drag is None:
            return
        anchor = drag.anchor
        restore = self.wires.get((detached.dst, detached.dst_slot)) if detached else None
        if detached is not None and target is None:  # dragged off into empty canvas
            self.doc.unlink(detached.dst, detached.dst_slot)
            self.message.emit(f"disconnected {detached}")
            return
        if target is None or target is anchor:
            if restore is not None:
                restore.setVisible(True)
            return
        if (
            detached is not None
            and target.is_input
            and ((target.node_id, target.name) == (detached.dst, detached.dst_slot))
        ):
            if restore is not None:
                restore.setVisible(True)
            return
        if detached is not None and target.is_input:
            # move the wire's end to another input: one undo step
            try:
                self.doc.check_link(Link(anchor.node_id, anchor.name, target.node_id, target.name))
            except GraphError as exc:
                if restore is not None:
                    restore.setVisible(True)
                self.message.emit(f"refused: {exc}")
                self._flash(target)
                return
            with self.doc.macro("Reconnect"):
                self.doc.unlink(detached.dst, detached.dst_slot)
                self.try_connect(anchor, target)
            return
        if self.try_connect(anchor, target) is not None and restore is not None:
            restore.setVisible(True)

    # -- mouse --------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.button() == Qt.MouseButton.LeftButton:
            port = next((i for i in self.items(event.scenePos()) if isinstance(i, PortItem)), None)
            if port is not None:
                self.begin_drag(port)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._drag is not None:
            self._drag.follow(event.scenePos())
            target = self._port_at(event.scenePos())
            self._drag.refuse(target is not None and target.hint is False)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self._drag is not None:
            self.finish_drag(self._port_at(event.scenePos()))
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.commit_moves()

    def commit_moves(self) -> None:
        """Record where the user dropped nodes (one undo step for the whole drag)."""
        moves: dict[str, tuple[float, float]] = {}
        for node_id, item in self.nodes.items():
            pos = self.doc.graph.node(node_id).position or (0.0, 0.0)
            if (item.pos().x(), item.pos().y()) != pos:
                moves[node_id] = (item.pos().x(), item.pos().y())
        if moves:
            self.doc.move_nodes(moves)

    # -- grid ---------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, QColor(theme.BACKGROUND))
        scale = painter.worldTransform().m11()
        if scale < 0.35:
            step = GRID * MAJOR
            pens = [(QPen(QColor(theme.GRID_MAJOR), 0), step)]
        else:
            pens = [
                (QPen(QColor(theme.GRID_MINOR), 0), GRID),
                (QPen(QColor(theme.GRID_MAJOR), 0), GRID * MAJOR),
            ]
        for pen, step in pens:
            painter.setPen(pen)
            left = int(rect.left()) - int(rect.left()) % step
            top = int(rect.top()) - int(rect.top()) % step
            lines = [
                QLineF(x, rect.top(), x, rect.bottom())
                for x in range(left, int(rect.right()) + 1, step)
            ]
            lines += [
                QLineF(rect.left(), y, rect.right(), y)
                for y in range(top, int(rect.bottom()) + 1, step)
            ]
            painter.drawLines(lines)  # one call, not one per line (repainted under every node)
