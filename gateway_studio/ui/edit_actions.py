"""The Edit menu's work on the canvas: copy, cut, paste, duplicate, select all, bypass.

The clipboard holds the nodes as patch JSON text, so a copy can be pasted into another
window or a text editor."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QApplication

from gateway_studio.engine.errors import GatewayError

from .document import CLIPBOARD_MIME

if TYPE_CHECKING:
    from .main_window import MainWindow


class EditActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.doc = window.doc
        self.scene = window.scene

    def show_message(self, text: str) -> None:
        self.window.show_message(text)

    def copy(self) -> None:
        ids = self.scene.selected_node_ids()
        if not ids:
            return
        data = self.doc.copy_nodes(ids)
        text = json.dumps(data, indent=2)
        # Plain text (a patch can be pasted into another window or a text editor), set
        # through setText so Qt owns the QMimeData: a Python-made one outlives the
        # interpreter in the clipboard and segfaults the process at exit.
        QApplication.clipboard().setText(text)
        self.show_message(f"copied {len(ids)} node(s)")

    def cut(self) -> None:
        self.copy()
        self.scene.delete_selection()

    def paste(self) -> None:
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            return
        raw = (
            bytes(mime.data(CLIPBOARD_MIME).data()).decode("utf-8")
            if mime.hasFormat(CLIPBOARD_MIME)
            else mime.text()
        )
        try:
            data = json.loads(raw)
            pos = self.window.view.cursor_scene_pos()
            ids = self.doc.paste(data, at=(pos.x(), pos.y()))
        except (ValueError, GatewayError) as exc:
            self.show_message(f"nothing to paste: {str(exc).splitlines()[0][:200]}")
            return
        self.scene.select_nodes(ids)
        self.show_message(f"pasted {len(ids)} node(s)")

    def duplicate(self) -> None:
        ids = self.doc.duplicate(self.scene.selected_node_ids())
        self.scene.select_nodes(ids)

    def select_all(self) -> None:
        self.scene.select_nodes(self.doc.node_ids())

    def toggle_bypass(self) -> None:
        graph = self.doc.graph
        selected = self.scene.selected_node_ids()
        ids = [n for n in selected if graph.spec(n).inputs or graph.node(n).bypass]
        if not ids:
            if selected:
                self.show_message("a source node has no input to pass through: nothing to bypass")
            return
        target = not all(graph.node(n).bypass for n in ids)
        with self.doc.macro("Bypass"):
            for node_id in ids:
                self.doc.set_bypass(node_id, target)
