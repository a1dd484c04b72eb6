"""The main window: canvas in the centre; palette, viewer and inspector in docks; the
status bar. Its menus are built in ``menus.py`` and each menu's work lives in its own
class: File — ``FileActions`` (open, save, recent, examples, photos, autosave and
recovery), ``Exporter``, ``BatchRenderer``; Edit — ``EditActions``; Node —
``NodeActions``; View — ``ViewActions``.

Questions to the user go through ``ask_*`` methods so tests can answer them.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QByteArray, QPointF, Qt, QTimer
from qtpy.QtGui import QCloseEvent
from qtpy.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import gateway_studio
from gateway_studio.engine.batch import final_node
from gateway_studio.engine.evaluator import Evaluator
from gateway_studio.engine.registry import Registry

from . import eyedropper, jobs
from .batch_dialog import BatchRenderer
from .cache_pruner import CachePruner
from .canvas.scene import NodeScene
from .canvas.view import NodeView
from .controller import EvalController
from .document import Document
from .edit_actions import EditActions
from .exporter import Exporter
from .file_actions import FileActions
from .histogram import HistogramBinding
from .inspector import Inspector
from .menus import ActionSlots, build_actions, build_menus, context_menu
from .node_actions import NodeActions
from .palette import NodeSearchPopup, Palette
from .render_consent import PatchRenderer
from .session import Session
from .view_actions import ViewActions
from .viewer import ElidedLabel, Viewer
from .warmup import MODULES, WarmImporter
from .worker import EvalWorker, ViewSpec, make_evaluator

APP_NAME = "Gateway Studio"
AUTOSAVE_SECONDS = 30
#: Bump when the docks change, so an old saved layout is not applied to new docks.
LAYOUT_VERSION = 1
#: How long canvas gesture feedback (connected / refused / disconnected) stays.
GESTURE_MESSAGE_SECONDS = 10.0
#: How long closing waits for a cancelled export or batch render to stop.
JOB_STOP_SECONDS = 5.0


class MainWindow(QMainWindow, ActionSlots):
    def __init__(
        self,
        *,
        registry: Registry | None = None,
        evaluator: Evaluator | None = None,
        session: Session | None = None,
        autosave_seconds: float = AUTOSAVE_SECONDS,
        disk_cache: bool = True,
    ) -> None:
        super().__init__()
        self.session = session or Session()
        self.doc = Document(registry, self)
        self.registry = self.doc.registry
        self.worker = EvalWorker(evaluator or make_evaluator(disk_cache), self)
        self.controller = EvalController(self.doc, self.worker, self)
        self.scene = NodeScene(self.doc, self.controller, self)
        self.view = NodeView(self.scene)
        self.inspector = Inspector(self.doc, self.controller)
        self.viewer = Viewer()
        self.node_palette = Palette(self.registry)
        self.search_popup = NodeSearchPopup(self.registry, self)
        self._search_pos = QPointF()
        #: The node the viewer shows.
        self.viewed: str | None = None
        self.warm: WarmImporter | None = None
        self._selection_pending = False
        # the File menu's three jobs, each in its own class
        self.files = FileActions(self)
        self.exporter = Exporter(self)
        self.batch = BatchRenderer(self)
        # File › Render (the patch's own exports, with consent) and the cache's size limit
        self.renderer = PatchRenderer(self)
        self.pruner = CachePruner(self.worker.evaluator.cache, parent=self)
        # the Edit, Node and View menus' work
        self.edit = EditActions(self)
        self.node_actions = NodeActions(self)
        self.view_actions = ViewActions(self)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.files.bar)
        column.addWidget(self.view, 1)
        self.setCentralWidget(central)
        self.setDockNestingEnabled(True)
        self._docks()
        self._status_bar()
        build_actions(self)
        build_menus(self)
        self._connect()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(int(autosave_seconds * 1000))
        self.autosave_timer.timeout.connect(self.files.autosave)
        self.autosave_timer.start()
        self.resize(1500, 920)
        self._docks_fitted = False
        self.refresh_title()

    # -- layout -------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _docks(self) -> None:
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.palette_dock = self._dock(
            "Nodes", self.node_palette, Qt.DockWidgetArea.LeftDockWidgetArea, "palette"
        )
        self.viewer_dock = self._dock("Viewer", self.viewer, right, "viewer")
        self.inspector_dock = self._dock("Inspector", self.inspector, right, "inspector")
        self.splitDockWidget(self.viewer_dock, self.inspector_dock, Qt.Orientation.Vertical)
        self.resizeDocks([self.palette_dock], [200], Qt.Orientation.Horizontal)
        self.resizeDocks([self.viewer_dock], [560], Qt.Orientation.Horizontal)
        self.resizeDocks(
            [self.viewer_dock, self.inspector_dock], [480, 360], Qt.Orientation.Vertical
        )

    def fit_docks(self) -> None:
        """Share the window between canvas, viewer and inspector by its width (the first
        start, or whenever no saved layout applies): the viewer gets under a third; below
        1500 px the node list starts hidden (Tab searches; View ▸ Nodes brings it back),
        so the canvas keeps room for legible nodes."""
        width = self.width()
        narrow = width < 1500
        self.palette_dock.setVisible(not narrow)
        if not narrow:
            # a tenth of the window, or what the longest family name needs (never elided)
            palette = min(max(int(width * 0.09), self.node_palette.needed_width()), width // 6)
            self.resizeDocks([self.palette_dock], [palette], Qt.Orientation.Horizontal)
        self.resizeDocks([self.viewer_dock], [int(width * 0.31)], Qt.Orientation.Horizontal)
        height = self.height()
        self.resizeDocks(
            [self.viewer_dock, self.inspector_dock],
            [int(height * 0.52), int(height * 0.48)],
            Qt.Orientation.Vertical,
        )
        self._docks_fitted = True

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.status = ElidedLabel("Ready")  # a long message must not run under the others
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._message_expired)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.eval_label = QLabel("")
        self.eval_label.setObjectName("muted")
        # wide enough for its longest text: a new count does not re-lay out the status bar
        longest = "evaluated (full resolution) in 00000 ms"
        self.eval_label.setMinimumWidth(self.eval_label.fontMetrics().horizontalAdvance(longest))
        self._progress_next = (0, "")
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(100)
        self._progress_timer.timeout.connect(self._show_progress)
        self.warm_label = QLabel("")
        self.warm_label.setObjectName("muted")
        self.warm_label.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop the running evaluation (Esc)")
        self.cancel_button.setEnabled(False)
        bar.addWidget(self.status, 1)
        bar.addPermanentWidget(self.warm_label)
        bar.addPermanentWidget(self.eval_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _connect(self) -> None:
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.rubberBandChanged.connect(self._rubber_band_changed)
        self.scene.message.connect(lambda text: self.show_message(text, GESTURE_MESSAGE_SECONDS))
        self.scene.nodeDoubleClicked.connect(lambda _nid: self.inspector_dock.raise_())
        self.inspector.message.connect(self.show_message)
        self.viewer.optionsChanged.connect(self._view_options)
        self.controller.viewChanged.connect(self.viewer.show_view)
        self.controller.nodeStateChanged.connect(self._show_notes)
        self.viewer.image_view.picked.connect(self._pick)
        self.histogram = HistogramBinding(self.viewer.histogram, self.doc, self.controller)
        self.controller.progressChanged.connect(self._progress)
        self.controller.busyChanged.connect(self._busy)
        self.cancel_button.clicked.connect(self.controller.cancel)
        self.doc.dirtyChanged.connect(lambda _d: self.refresh_title())
        self.doc.pathChanged.connect(lambda _p: self.refresh_title())
        self.doc.reset.connect(self._after_reset)
        self.doc.titleChanged.connect(lambda nid, _t: self.viewer.retitle(nid))
        self.view.searchRequested.connect(self.open_search_at)
        self.view.nodeDropped.connect(lambda t, pos: self.node_actions.add_node_at(t, pos))
        self.view.imagesDropped.connect(self.node_actions.add_images)
        self.view.patchDropped.connect(self.files.open_path)
        self.node_palette.addRequested.connect(lambda t: self.node_actions.add_node_at(t, None))
        self.search_popup.chosen.connect(
            lambda t: self.node_actions.add_node_at(t, self._search_pos)
        )
        self.view.context_menu = lambda node_id, pos: context_menu(self, node_id, pos)
        self.viewer.title_of = lambda nid: (
            self.doc.graph.node(nid).title if nid in self.doc.graph else ""
        )

    # -- status -------------------------------------------------------------------------
    def show_message(self, text: str, seconds: float = 0.0) -> None:
        """Say ``text`` in the status bar; with ``seconds``, only for that long (a gesture's
        feedback — 'refused: …' — must not linger as if it were about the next one)."""
        self.status.set_full_text(text)
        self._message_timer.stop()
        if seconds > 0:
            self._message_timer.start(int(seconds * 1000))

    def _message_expired(self) -> None:
        self.status.set_full_text("")

    def _progress(self, fraction: float, text: str) -> None:
        """Show the evaluation's progress: the end at once, the steps before it at most
        every 100 ms (a drag step reports each node, faster than anyone reads)."""
        self._progress_next = (int(fraction * 1000), text)
        if fraction >= 1.0:
            self._progress_timer.stop()
            self._show_progress()
        elif not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_progress(self) -> None:
        value, text = self._progress_next
        if self.progress.value() != value:
            self.progress.setValue(value)
        if self.eval_label.text() != text:
            self.eval_label.setText(text)

    def _busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)

    # -- background import of the model libraries -------------------------------------
    def start_warm_imports(self, modules: list[str] | None = None) -> WarmImporter:
        """Import torch/transformers now, while idle, not on the first model node mid-drag."""

        def ui_idle() -> bool:
            c = self.controller
            return not c.busy and not c.interacting and not self.worker.busy()

        self.warm = WarmImporter(ui_idle, MODULES if modules is None else modules, parent=self)
        self.warm.started.connect(self._warm_started)
        self.warm.finished.connect(self._warm_finished)
        self.warm.start()
        return self.warm

    def _warm_started(self, name: str, index: int, count: int) -> None:
        self.warm_label.setText(f"loading model libraries… ({index}/{count})")
        self.warm_label.setToolTip(f"importing {name} in the background")
        self.warm_label.setVisible(True)

    def _warm_finished(self, seconds: float, error: str) -> None:
        if error:
            self.warm_label.setText("model libraries unavailable")
            self.warm_label.setToolTip(error)
            return
        self.warm_label.setText(f"model libraries ready ({seconds:.1f} s)")
        self.warm_label.setToolTip("torch and transformers are loaded")
        QTimer.singleShot(4000, self, lambda: self.warm_label.setVisible(False))

    def refresh_title(self) -> None:
        self.setWindowTitle(f"{self.files.display_name()}[*] — {APP_NAME}")
        self.setWindowModified(self.doc.dirty)

    # -- selection → inspector and viewer -----------------------------------------------
    def _selection_changed(self) -> None:
        if not self.view.rubberBandRect().isNull():
            # mid rubber band: the selection grows node by node; the viewer and inspector
            # would flick through each of them (the viewer then stayed on the first)
            self._selection_pending = True
            return
        self._selection_pending = False
        ids = self.scene.selected_node_ids()
        node_id = ids[0] if len(ids) == 1 else None
        self.inspector.set_node(node_id, len(ids))
        self._show_notes(node_id or "")
        self.histogram.show_node(node_id)
        if node_id is not None:
            self.view_node(node_id)

    def _pick(self, fx: float, fy: float) -> None:
        """The eyedropper: the selected node's depth knob from the clicked pixel."""
        node_id = self.inspector.node_id
        if node_id is None:
            self.show_message("select a node (isolate, atmosphere, a band) to pick its depth")
            return
        self.show_message(eyedropper.pick(self.doc, node_id, self.controller.outputs, fx, fy))

    def _show_notes(self, node_id: str) -> None:
        if node_id == (self.inspector.node_id or ""):
            notes = self.controller.state(node_id).notes if node_id else ()
            self.inspector.set_notes(notes)

    def _rubber_band_changed(self, rect: object, *_points: object) -> None:
        if getattr(rect, "isNull", lambda: False)() and self._selection_pending:
            self._selection_changed()  # the band is released: one update for its selection

    def view_node(self, node_id: str) -> None:
        if node_id != self.viewed:
            self.viewed = node_id
            self.viewer.clear_for(node_id)
        self.controller.set_view(ViewSpec(node_id, None, self.viewer.colormap))  # type: ignore[arg-type]

    def _view_options(self, slot: str, colormap: str) -> None:
        if self.viewed is not None and self.viewed in self.doc.graph:
            self.controller.set_view(ViewSpec(self.viewed, slot or None, colormap))  # type: ignore[arg-type]

    def _after_reset(self) -> None:
        self.viewed = None
        self.viewer.clear_for(None)
        self.viewer.set_note("")
        QTimer.singleShot(0, self._frame_and_select)

    def show_note(self, text: str) -> None:
        """A standing note in the viewer (a photo without depth says how to get it)."""
        self.viewer.set_note(text)

    def _frame_and_select(self) -> None:
        final = final_node(self.doc.graph) if len(self.doc.graph) else None
        focus = self.scene.node_item(final).sceneBoundingRect() if final is not None else None
        self.view.frame(legible=True, focus=focus)
        if final is not None:
            self.scene.select_nodes([final])

    # -- editing ------------------------------------------------------------------------
    def open_search(self) -> None:
        self.open_search_at(self.view.cursor_scene_pos())

    def open_search_at(self, scene_pos: QPointF) -> None:
        self._search_pos = scene_pos
        global_pos = self.view.viewport().mapToGlobal(self.view.mapFromScene(scene_pos))
        self.search_popup.popup_at(global_pos)

    def escape(self) -> None:
        """Esc: drop a wire being dragged, else cancel the running evaluation."""
        if not self.scene.abort_drag():
            self.controller.cancel()

    # the menus' work, by the names tests and scripts call on the window
    def add_node_at(
        self,
        type_id: str,
        pos: QPointF | None,
        params: dict[str, Any] | None = None,
        auto_connect: bool = True,
    ) -> str | None:
        return self.node_actions.add_node_at(type_id, pos, params, auto_connect)

    def add_images(self, paths: list[str], pos: QPointF) -> list[str]:
        return self.node_actions.add_images(paths, pos)

    def add_backdrop(self) -> None:
        self.node_actions.add_backdrop()

    def auto_layout(self) -> None:
        self.node_actions.auto_layout()

    def copy(self) -> None:
        self.edit.copy()

    def paste(self) -> None:
        self.edit.paste()

    def duplicate(self) -> None:
        self.edit.duplicate()

    def select_all(self) -> None:
        self.edit.select_all()

    def toggle_bypass(self) -> None:
        self.edit.toggle_bypass()

    def frame(self) -> None:
        self.view.frame(selected_only=bool(self.scene.selectedItems()))

    # -- files --------------------------------------------------------------------------
    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel' (tests replace this)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            APP_NAME,
            f"Save changes to {self.files.display_name()}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("Your changes are lost if you don't save them.")
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Save:
            return "save"
        if answer == QMessageBox.StandardButton.Discard:
            return "discard"
        return "cancel"

    def show_error(self, title: str, text: str) -> None:
        self.show_message(f"{title}: {text.splitlines()[0] if text else ''}")
        QMessageBox.warning(self, title, text)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        self.session.save_layout(
            bytes(self.saveGeometry().data()), bytes(self.saveState(LAYOUT_VERSION).data())
        )
        # A node that cannot be interrupted (a model's forward pass) may hold the worker
        # for seconds: the window goes away now, the join happens out of sight.
        self.hide()
        self.shutdown()
        event.accept()

    def restore_layout(self) -> bool:
        """The window size and docks as the user left them (docks resized, closed, floated)."""
        saved = self.session.layout()
        if saved is None:
            return False
        geometry, state = saved
        restored = self.restoreGeometry(QByteArray(geometry))
        return self.restoreState(QByteArray(state), LAYOUT_VERSION) and restored

    def shutdown(self) -> None:
        self.autosave_timer.stop()
        if self.warm is not None:
            self.warm.stop()
        self.session.discard_autosave()
        self.controller.cancel()
        self.worker.shutdown()
        # Every export/batch still running (not only the last started): stop it and wait,
        # so no thread keeps evaluating and writing files after the window is gone.
        running = [job for job in self.findChildren(jobs.Job) if job.is_alive()]
        for job in running:
            job.cancel()
        for job in running:
            job.wait(JOB_STOP_SECONDS)

    def _about(self) -> None:
        QMessageBox.about(
            self,
            APP_NAME,
            f"<b>{APP_NAME}</b> {gateway_studio.__version__}<br>"
            "Decompose a photo once, modulate it live.",
        )
