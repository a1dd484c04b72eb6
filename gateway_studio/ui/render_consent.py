"""File › Render: run the patch's own export nodes, writing where the patch says — after
the user agreed, once, to every target outside the patch's folder.

A patch downloaded from a forum may name any file as its export target. The engine
refuses a write outside the patch's folder unless the user consented
(``engine/consent.py``); here the consent is one confirmation listing those paths, asked
the first time such a patch renders (the way Blender asks before running a file's
scripts), and remembered for that patch until it is closed. A render onto a file the
patch reads is refused outright, whatever the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QMessageBox

from gateway_studio.engine.consent import outside_writes, overwrite_message, overwritten_reads
from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.evaluator import CancelToken, Evaluator
from gateway_studio.engine.graph import PatchGraph
from gateway_studio.engine.slots import Files

from . import jobs

if TYPE_CHECKING:
    from .main_window import MainWindow

#: Paths listed in the confirmation before "… and N more".
LIST_AT_MOST = 12


def writers(graph: PatchGraph) -> list[str]:
    """The nodes that write files (bypassed ones write nothing)."""
    return [n.id for n in graph.nodes() if graph.spec(n.id).writes_files and not n.bypass]


def run_render(
    evaluator: Evaluator, graph: PatchGraph, sinks: Sequence[str], cancel: CancelToken
) -> list[str]:
    """Evaluate the writers (and what feeds them); the files written, or GatewayError."""
    evaluation = evaluator.evaluate(graph, targets=list(sinks), cancel=cancel, strict=True)
    if evaluation.cancelled:
        raise GatewayError("render cancelled")
    if not evaluation.ok:
        failed = [f"{n}: {r.error}" for n, r in evaluation.results.items() if r.status == "failed"]
        raise GatewayError("; ".join(failed) or "render failed")
    return [
        path
        for result in evaluation.results.values()
        for slot in result.outputs.values()
        if isinstance(slot, Files)
        for path in slot.paths
    ]


def consent_text(folder: Path | None, targets: Sequence[tuple[str, Path]]) -> str:
    where = f"its folder ({folder})" if folder else "a folder (it is not saved yet)"
    lines = [f"{ref} → {path}" for ref, path in targets[:LIST_AT_MOST]]
    if len(targets) > LIST_AT_MOST:
        lines.append(f"… and {len(targets) - LIST_AT_MOST} more")
    return (
        f"This patch writes outside {where}:\n\n"
        + "\n".join(lines)
        + "\n\nOnly allow this for a patch you trust: it will create or replace these files."
    )


class PatchRenderer(QObject):
    """The File › Render action of a ``MainWindow``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.action = QAction("&Render", window)
        self.action.setShortcut(QKeySequence("Ctrl+R"))
        self.action.setToolTip("Run the patch's export nodes, writing the files they name")
        self.action.triggered.connect(lambda _checked=False: self.render())
        window.addAction(self.action)

    def ask_consent(self, folder: Path | None, targets: Sequence[tuple[str, Path]]) -> bool:
        """The one confirmation (tests answer it by replacing this method)."""
        answer = QMessageBox.warning(
            self.window,
            "Allow writing outside the patch's folder?",
            consent_text(folder, targets),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def render(self) -> jobs.Job | None:
        """Render the patch's exports; None (and a message) when nothing is to be written."""
        w = self.window
        graph = w.doc.graph
        sinks = writers(graph)
        if not sinks:
            w.show_message("the patch has no export node: File ▸ Export… writes a node")
            return None
        clashes = overwritten_reads(graph)
        if clashes:
            w.show_error("Render refused", "\n".join(overwrite_message(*c) for c in clashes))
            return None
        outside = outside_writes(graph, strict=True)
        if outside:
            if not self.ask_consent(graph.base_dir, outside):
                w.show_message("render cancelled: nothing was written")
                return None
            consent = graph.write_consent
            for _ref, path in outside:
                consent = consent.allow_file(path)
            graph.write_consent = consent  # asked once: remembered for this patch
        evaluator, snapshot = w.worker.evaluator, graph.snapshot()
        job = jobs.Job(lambda token: run_render(evaluator, snapshot, sinks, token), parent=w)
        w.show_message(f"rendering {len(sinks)} export(s)…")

        def done(result: object, error: str) -> None:
            if error:
                w.show_error("Render failed", error)
            else:
                w.show_message(f"wrote {', '.join(result)}")  # type: ignore[arg-type]

        job.done.connect(done)
        job.start()
        return job
