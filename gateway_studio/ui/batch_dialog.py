"""File › Render batch…: a dialog, then the engine's batch jobs on a thread of their own.

The rules (which node is written, how outputs are named, what may not be overwritten, that
a failed image writes nothing) are the engine's (``engine/batch.py``), the same as
``gateway-studio render --batch``; this module only asks and reports. With more than one
worker the jobs run on a Dask LocalCluster of that many processes (``engine/farm.py``,
as ``render --batch --workers N``), sharing the app's disk cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QObject, Qt
from qtpy.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QWidget,
)

from gateway_studio.engine import batch
from gateway_studio.engine.batch import BatchError, BatchPlan, JobReport

from .jobs import Job

if TYPE_CHECKING:
    from .main_window import MainWindow

#: How many failed images the report names.
SHOW_FAILURES = 20


class BatchRenderer(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    # -- asking ---------------------------------------------------------------------------
    def dialog(self) -> None:
        w = self.window
        graph = w.doc.graph
        sources = [n.id for n in graph.nodes() if graph.spec(n.id).read_path_param]
        images = [n for n in sources if graph.node(n).type_id == "source.image"]
        if not sources:
            w.show_message("the patch has no source.image node to feed the batch")
            return
        dialog = QDialog(w)
        dialog.setWindowTitle("Render batch")
        dialog.setMinimumWidth(560)  # room for real paths
        form = QFormLayout(dialog)
        folder, out = QLineEdit(), QLineEdit()
        for line, title in ((folder, "Images folder"), (out, "Output folder")):
            form.addRow(title, self._browse_row(line, title))
        source = QComboBox()
        source.addItems(images or sources)
        selected = w.scene.selected_node_ids()
        if selected and selected[0] in sources:
            source.setCurrentText(selected[0])
        form.addRow("Images feed", source)
        fmt = QComboBox()
        fmt.addItems([".png", ".tif", ".jpg", ".exr"])
        fmt.setEnabled(not batch.writers(graph))
        fmt.setToolTip("Used when the patch has no export node (its final node is written)")
        form.addRow("Format", fmt)
        workers = QSpinBox()
        workers.setRange(1, max(os.cpu_count() or 1, 1))
        workers.setToolTip(
            "Worker processes rendering images side by side (1: in the app's own process)"
        )
        form.addRow("Workers", workers)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        folder.textChanged.connect(
            lambda t: out.setPlaceholderText(str(Path(t) / "rendered") if t.strip() else "")
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.start(
            folder.text(),
            out.text() or out.placeholderText(),
            source.currentText(),
            fmt.currentText(),
            workers=workers.value(),
        )

    def _browse_row(self, line: QLineEdit, title: str) -> QWidget:
        browse = QPushButton("…")
        browse.clicked.connect(
            lambda _=False: line.setText(
                QFileDialog.getExistingDirectory(self.window, title) or line.text()
            )
        )
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(line, 1)
        lay.addWidget(browse)
        return row

    # -- planning -----------------------------------------------------------------------
    def start(
        self,
        folder: str,
        out: str,
        source_id: str,
        suffix: str = ".png",
        *,
        modal: bool = True,
        workers: int = 1,
    ) -> Job | None:
        """Check the dialog's answers and plan the jobs (the engine's checks, before any
        render), then render; None (and a message saying why) if they cannot work."""
        w = self.window
        folder, out = folder.strip(), out.strip()
        if not folder or not out:
            w.show_message("choose an images folder and an output folder")
            return None
        images_dir = Path(folder).expanduser()
        if not images_dir.is_dir():
            w.show_message(f"batch: {images_dir} is not a folder")
            return None
        images = batch.image_files(images_dir)
        if not images:
            w.show_message(f"batch: no images in {images_dir}")
            return None
        out_dir = Path(out).expanduser()
        if out_dir.resolve() == images_dir.resolve():
            # same names, same folder: the renders would overwrite the photos
            w.show_message("batch: choose an output folder other than the images folder")
            return None
        try:  # the snapshot is taken here, on the UI thread: jobs carry their own patch
            plan = batch.plan_batch(w.doc.graph, images, out_dir, source=source_id, suffix=suffix)
        except BatchError as exc:
            w.show_message(f"batch: {exc}")
            return None
        return self.render(plan, modal=modal, workers=workers)

    # -- running ------------------------------------------------------------------------
    def render(self, plan: BatchPlan, *, modal: bool = True, workers: int = 1) -> Job:
        w = self.window
        total = len(plan.jobs)
        progress = QProgressDialog("Rendering…", "Cancel", 0, total, w)
        progress.setWindowTitle("Render batch")
        progress.setWindowModality(
            Qt.WindowModality.WindowModal if modal else Qt.WindowModality.NonModal
        )
        progress.setMinimumDuration(0)
        evaluator, registry = w.worker.evaluator, w.registry

        def run(token: object) -> list[JobReport]:
            plan.out_dir.mkdir(parents=True, exist_ok=True)
            if workers > 1:  # per image as each finishes; cancel reaches running images
                from gateway_studio.engine import farm

                disk = evaluator.cache.disk
                return farm.run_jobs_on_dask(
                    plan.jobs,
                    workers=workers,
                    settings=farm.FarmSettings(
                        str(disk.root) if disk is not None else None, disk is None
                    ),
                    cancel=token,  # type: ignore[arg-type]
                    progress=lambda i, n, name: job.progress.emit(i, n, name),
                )
            return batch.run_jobs(
                plan.jobs,
                evaluator,
                registry=registry,
                cancel=token,  # type: ignore[arg-type]
                progress=lambda i, n, name: job.progress.emit(i, n, name),
            )

        job = Job(run, parent=w)

        def step(i: int, n: int, name: str) -> None:
            progress.setMaximum(n)
            progress.setValue(i)
            if workers > 1:  # images finish in any order: name the one that just did
                progress.setLabelText(f"{i} of {n} done ({workers} workers): {name}")
            else:
                progress.setLabelText(f"{i + 1 if i < n else n} of {n}: {name}")

        def done(result: object, error: str) -> None:
            progress.close()
            if error:
                w.show_error("Batch render failed", error)
                return
            self.report(plan, result)  # type: ignore[arg-type]

        job.progress.connect(step)
        job.done.connect(done)
        progress.canceled.connect(job.cancel)
        job.start()
        return job

    def report(self, plan: BatchPlan, reports: list[JobReport]) -> None:
        """One honest line; the failed images and why, when there are any."""
        w = self.window
        line = batch.summary(reports, len(plan.jobs))
        if plan.same_each_time:
            line += f" ({', '.join(plan.same_each_time)}: the same picture for every image)"
        failed = [r for r in reports if r.status == "failed"]
        if not failed:
            w.show_message(f"batch: {line} into {plan.out_dir}")
            return
        details = [f"{Path(r.name).name}: {'; '.join(r.errors) or 'failed'}" for r in failed]
        w.show_error("Batch render", f"{line}.\n\n" + "\n".join(details[:SHOW_FAILURES]))
