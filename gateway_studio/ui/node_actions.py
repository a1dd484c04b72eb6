"""The Node menu's work: add a node where asked (wired to the selection when it fits),
photos dropped on the canvas, backdrops, auto layout and reroute dots on wires."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QPointF

from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.graph import Link, PatchGraph

from .canvas.geometry import HEADER, node_box
from .canvas.wire_item import WireItem
from .canvas.wire_menu import add_reroute

if TYPE_CHECKING:
    from .main_window import MainWindow


class NodeActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.doc = window.doc
        self.scene = window.scene
        self.registry = window.registry

    def add_node_at(
        self,
        type_id: str,
        pos: QPointF | None,
        params: dict[str, Any] | None = None,
        auto_connect: bool = True,
    ) -> str | None:
        """Add a node centred under ``pos``; wire the selected node into it when it fits.

        Without ``pos`` (the palette) the node goes right of the selected node, or in the
        middle of the view. Either way it is nudged down off any node it would cover."""
        selected = self.scene.selected_node_ids()
        try:
            width = node_box(self.registry.get(type_id)).width
        except GatewayError as exc:
            self.window.show_message(str(exc))
            return None
        if pos is None:
            if len(selected) == 1:
                rect = self.scene.node_item(selected[0]).scene_body()
                x, y = rect.right() + 60.0, rect.top()
            else:
                c = self.window.view.centre_scene_pos()
                x, y = c.x() - width / 2, c.y() - HEADER / 2
        else:
            x, y = pos.x() - width / 2, pos.y() - HEADER / 2
        try:
            x, y = self.scene.free_spot(x, y, type_id)  # an unknown type raises here
            # bad params: refuse before the macro, which would stay behind as an empty
            # undo step and mark the patch modified
            PatchGraph(self.registry).add_node(type_id, params)
        except GatewayError as exc:
            self.window.show_message(str(exc))
            return None
        stack = self.doc.undo_stack
        stack.beginMacro(f"Add {type_id}")
        try:
            node_id = self.doc.add_node(type_id, params, position=(x, y))
            if auto_connect and len(selected) == 1:
                self._auto_connect(selected[0], node_id)
        except GatewayError as exc:
            self.window.show_message(str(exc))
            return None
        finally:
            stack.endMacro()
        self.scene.select_nodes([node_id])
        self.window.view.setFocus()  # so Delete, F, B, Ctrl+D act on it (not on the palette list)
        # right of the selection may be past the view's edge: scroll it into sight
        self.window.view.ensureVisible(self.scene.node_item(node_id).sceneBoundingRect(), 40, 40)
        return node_id

    def _auto_connect(self, src: str, dst: str) -> None:
        """Wire each input of the new node that a still-unused output of ``src`` can feed:
        a photo+depth source into isolate fills both image and depth (it used to stop at
        the first link, leaving the node red until depth was wired by hand)."""
        graph = self.doc.graph
        used: set[str] = set()
        for inp in graph.spec(dst).inputs:
            for out in graph.spec(src).outputs:
                if out.name in used:
                    continue
                try:
                    graph.check_link(Link(src, out.name, dst, inp.name))
                except GatewayError:
                    continue
                self.doc.link(src, out.name, dst, inp.name)
                used.add(out.name)
                break

    def add_images(self, paths: list[str], pos: QPointF) -> list[str]:
        """Photos dropped: on an empty canvas the first starts a new patch (photo, depth,
        viewer); on a patch they are added as source nodes where they were dropped."""
        if not len(self.doc.graph) and not self.doc.dirty and paths:
            return ["photo"] if self.window.files.open_photo(Path(paths[0]), ask=False) else []
        ids: list[str] = []
        with self.doc.macro("Add images"):
            for i, path in enumerate(paths):
                p = QPointF(pos.x(), pos.y() + i * 240)
                node_id = self.add_node_at(
                    "source.image", p, {"path": str(Path(path).resolve())}, auto_connect=False
                )
                if node_id:
                    ids.append(node_id)
        self.scene.select_nodes(ids[-1:])
        return ids

    def auto_layout(self) -> None:
        ids = self.scene.selected_node_ids()
        self.doc.auto_layout(ids if len(ids) > 1 else None)
        self.window.view.frame(selected_only=len(ids) > 1)

    def add_backdrop(self) -> None:
        rect = self.scene.items_rect(selected_only=True)
        if rect.isNull():
            c = self.window.view.centre_scene_pos()
            x, y, w, h = c.x() - 200, c.y() - 150, 400.0, 300.0
        else:
            x, y, w, h = rect.x() - 30, rect.y() - 60, rect.width() + 60, rect.height() + 90
        self.doc.add_backdrop("Backdrop", (x, y, w, h))

    def insert_reroute(self) -> str | None:
        """Node ▸ Insert reroute: a dot at the middle of the selected wire (double-clicking
        a wire, or its right-click menu, does the same where it was clicked)."""
        wires = [i for i in self.scene.selectedItems() if isinstance(i, WireItem)]
        if len(wires) != 1:
            self.window.show_message("select one wire to put a reroute dot on")
            return None
        wire = wires[0]
        return add_reroute(self.scene, wire.link, wire.path().pointAtPercent(0.5))
