"""File › Export…: the selected (or final) node to a file, at full resolution, through the
engine's ``output.export`` node on a thread of its own."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject
from qtpy.QtWidgets import QFileDialog

from gateway_studio.engine.batch import final_node

from . import jobs

if TYPE_CHECKING:
    from .main_window import MainWindow


class Exporter(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def target(self) -> str | None:
        """The selected node, else the patch's final node (the engine's one rule)."""
        ids = self.window.scene.selected_node_ids()
        if len(ids) == 1:
            return ids[0]
        return final_node(self.window.doc.graph)

    def dialog(self) -> None:
        w = self.window
        node_id = self.target()
        if node_id is None:
            w.show_message("nothing to export: add a node first")
            return
        spec = w.doc.graph.spec(node_id)
        slot = None
        if w.viewed == node_id and w.viewer.view_image is not None:
            slot = w.viewer.view_image.slot_name
        out = next((o for o in spec.outputs if o.name == slot), None) or next(
            (o for o in spec.outputs if o.type_name != "Files"), None
        )
        suffix = jobs.DEFAULT_SUFFIX.get(out.type_name, ".png") if out else ".png"
        start = w.files.save_as_start().parent / f"{node_id}{suffix}"  # not the working dir
        filters = [f for f, _sfx, _bits in jobs.EXPORT_FILTERS]
        initial = next((f for f, sfx, _b in jobs.EXPORT_FILTERS if sfx == suffix), filters[0])
        path, chosen = QFileDialog.getSaveFileName(
            w, f"Export {node_id}", str(start), ";;".join(filters), initial
        )
        if path:
            target, bits = jobs.export_choice(path, chosen)
            self.export(node_id, out.name if out else None, target, bit_depth=bits)

    def export(
        self, node_id: str, slot: str | None, path: Path, *, bit_depth: str = "auto"
    ) -> jobs.Job:
        w = self.window
        # snapshot on the UI thread: the job never reads the graph the artist edits
        evaluator, graph = w.worker.evaluator, w.doc.graph.snapshot()
        job = jobs.Job(
            lambda token: jobs.run_export(
                evaluator, graph, node_id, slot, path, token, bit_depth=bit_depth
            ),
            parent=w,
        )
        w.show_message(f"exporting {node_id} to {path}…")

        def done(result: object, error: str) -> None:
            if error:
                w.show_error("Export failed", error)
            else:
                w.show_message(f"wrote {', '.join(result)}")  # type: ignore[arg-type]

        job.done.connect(done)
        job.start()
        return job
