"""Keeps the pictures in step with the patch: when the graph changes, ask the worker.

The controller turns Document changes into ``EvalRequest``s (full resolution normally; a
preview proxy aimed at the viewed node while a knob is being dragged), and worker events
into per-node states, thumbnails and the viewer's picture, all on the UI thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qtpy.QtCore import QObject, QTimer, Signal
from qtpy.QtGui import QImage

from gateway_studio.engine.evaluator import (
    Event,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    Progress,
)
from gateway_studio.engine.slots import Slot

from . import display
from .document import Document
from .worker import PREVIEW_SIZE, EvalRequest, EvalResponse, EvalWorker, ViewSpec

#: A started node is shown "computing" only once it has been for this long.
STARTED_DELAY_MS = 60
#: Compute time a preview step may take; slower nodes get a smaller proxy next time.
PREVIEW_BUDGET = 0.020
MIN_PREVIEW = 256


def next_preview_size(size: int, seconds: float) -> int:
    """Adapt the proxy so a drag step costs about PREVIEW_BUDGET (cost ∝ pixels ∝ size²)."""
    if seconds <= 0:
        return size
    scaled = size * math.sqrt(PREVIEW_BUDGET / seconds)
    if PREVIEW_BUDGET / 3 < seconds < PREVIEW_BUDGET * 1.2:
        return size  # close enough: keep the picture steady
    return int(min(max(round(scaled / 64) * 64, MIN_PREVIEW), PREVIEW_SIZE))


@dataclass
class NodeState:
    #: idle | computing | computed | cached | failed | skipped | cancelled | waiting
    status: str = "idle"
    progress: float = 0.0
    message: str = ""
    seconds: float = 0.0
    preview: bool = False
    #: Why the node last re-ran (the evaluator's reason), for its tooltip.
    reason: str = ""
    #: What its outputs say a user must know (holes filled, metres, provenance).
    notes: tuple[str, ...] = ()


class EvalController(QObject):
    nodeStateChanged = Signal(str)
    thumbnailChanged = Signal(str, QImage)
    #: (ViewImage or None, message when there is nothing to show)
    viewChanged = Signal(object, str)
    #: (fraction 0..1, text)
    progressChanged = Signal(float, str)
    busyChanged = Signal(bool)
    evaluated = Signal(object)  # EvalResponse
    eventReceived = Signal(int, object)

    def __init__(self, doc: Document, worker: EvalWorker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.worker = worker
        self.auto = True
        self.states: dict[str, NodeState] = {}
        #: Each node's latest outputs (full resolution or preview proxy).
        self.outputs: dict[str, dict[str, Slot]] = {}
        self.view_spec: ViewSpec | None = None
        self._interacting: str | None = None
        #: Preview proxy size per dragged node, adapted to how fast the node runs.
        self.preview_sizes: dict[str, int] = {}
        self._preview_next = False
        self._latest = 0
        self._applied = 0
        self._busy = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._submit)
        #: Nodes started but not yet shown as computing (``_on_event``): a cache hit, or a
        #: preview that takes a few ms, finishes first and never flickers "computing".
        self._started: set[str] = set()
        self._started_timer = QTimer(self)
        self._started_timer.setSingleShot(True)
        self._started_timer.setInterval(STARTED_DELAY_MS)
        self._started_timer.timeout.connect(self._show_started)
        #: Whether each pending request is a preview (its NodeFinished events say so).
        self._previews: dict[int, bool] = {}
        doc.graphChanged.connect(self._on_graph_changed)
        doc.reset.connect(self._on_reset)
        doc.nodeAdded.connect(self._on_node_added)
        doc.nodeRemoved.connect(lambda nid: self.states.pop(nid, None))
        doc.nodeRemoved.connect(lambda nid: self.outputs.pop(nid, None))
        worker.nodeEvent.connect(self._on_event)
        worker.finished.connect(self._on_finished)
        worker.thumbnail.connect(self._on_thumbnail)

    @property
    def interacting(self) -> bool:
        """A knob is being dragged (evaluations are previews until it is let go)."""
        return self._interacting is not None

    # -- requests -----------------------------------------------------------------------
    def state(self, node_id: str) -> NodeState:
        return self.states.setdefault(node_id, NodeState())

    def schedule(self, *, preview: bool = False) -> None:
        """Evaluate soon (coalesces the many signals of one edit into one request)."""
        self._preview_next = preview
        self._timer.start()

    def evaluate_now(self, *, preview: bool = False) -> int:
        self._timer.stop()
        self._preview_next = preview
        return self._submit()

    def set_view(self, spec: ViewSpec | None) -> None:
        if spec == self.view_spec:
            return
        self.view_spec = spec
        if spec is None:
            self.viewChanged.emit(None, "select a node to see its output")
            return
        self.schedule(preview=self._interacting is not None)

    def begin_interaction(self, node_id: str) -> None:
        """A knob of ``node_id`` is being dragged: previews until ``end_interaction``."""
        self._interacting = node_id
        if node_id not in self.preview_sizes:
            # First drag of this node: guess from its last full run (images are rarely
            # much smaller than the proxy), then adapt step by step.
            last = self.state(node_id)
            if last.status == "computed" and not last.preview:
                self.preview_sizes[node_id] = next_preview_size(PREVIEW_SIZE, last.seconds)

    def end_interaction(self) -> None:
        if self._interacting is not None:
            self._interacting = None
            self.schedule(preview=False)

    def cancel(self) -> None:
        self._timer.stop()
        running = self.worker.cancel()
        # A dropped pending request never answers: the running one is the last to come
        # (waiting for the dropped one left the app busy and its nodes 'computing').
        self._latest = running if running is not None else self._applied
        if running is None:
            self._set_busy(False)

    def _targets(self, preview: bool) -> tuple[str, ...] | None:
        graph = self.doc.graph
        runnable = [n.id for n in graph.nodes() if not graph.spec(n.id).writes_files]
        if not preview:
            return tuple(sorted(runnable))
        wanted = {self._interacting} if self._interacting else set()
        if self.view_spec is not None:
            wanted.add(self.view_spec.node_id)
        return tuple(sorted(n for n in wanted if n in runnable))

    def _submit(self) -> int:
        if len(self.doc.graph) == 0:
            return 0
        preview = self._preview_next and self._interacting is not None
        targets = self._targets(preview)
        if not targets:
            return 0
        view = (
            self.view_spec if self.view_spec and self.view_spec.node_id in self.doc.graph else None
        )
        size = self.preview_sizes.get(self._interacting or "", PREVIEW_SIZE)
        request = EvalRequest(self.doc.graph.snapshot(), targets, size if preview else None, view)
        self._latest = self.worker.submit(request)
        self._previews = {r: p for r, p in self._previews.items() if r >= self._applied}
        self._previews[self._latest] = preview
        self._set_busy(True)
        return self._latest

    # -- document -----------------------------------------------------------------------
    def _on_graph_changed(self) -> None:
        if self.auto:
            self.schedule(preview=self._interacting is not None)

    def _on_reset(self) -> None:
        self.states.clear()
        self.worker.forget_pictures()

    def _on_node_added(self, node_id: str) -> None:
        self.states.pop(node_id, None)
        self.worker.forget_pictures(node_id)

    # -- responses (UI thread) ----------------------------------------------------------
    def _on_event(self, rid: int, ev: Event) -> None:
        self.eventReceived.emit(rid, ev)
        if rid < self._applied:
            return
        if isinstance(ev, Progress):
            self.progressChanged.emit(ev.fraction, f"{ev.done}/{ev.total} nodes")
            return
        node_id = ev.node_id
        if node_id not in self.doc.graph:
            return
        st = self.state(node_id)
        if isinstance(ev, NodeStarted):
            st.status, st.progress, st.message = "computing", 0.0, ""
            self._started.add(node_id)  # shown if it is still computing in a moment
            if not self._started_timer.isActive():
                self._started_timer.start()
            return
        self._started.discard(node_id)
        if isinstance(ev, NodeProgress):
            st.status, st.progress, st.message = "computing", ev.fraction, ev.message
        elif isinstance(ev, NodeFinished):
            st.status = "cached" if ev.cached else "computed"
            st.progress, st.seconds, st.message = 1.0, ev.seconds, ""
            st.preview = self._previews.get(rid, False)
            if not ev.cached:
                st.reason = ev.reason
        elif isinstance(ev, NodeFailed):
            if ev.status == "cancelled" and rid < self._latest:
                return  # superseded, not stopped: the newer request is coming
            st.status, st.message = ev.status, ev.error
        self.nodeStateChanged.emit(node_id)

    def _show_started(self) -> None:
        started, self._started = self._started, set()
        for node_id in started:
            if node_id in self.doc.graph and self.state(node_id).status == "computing":
                self.nodeStateChanged.emit(node_id)

    def _on_thumbnail(self, rid: int, node_id: str, image: QImage) -> None:
        if rid >= self._applied and node_id in self.doc.graph:
            self.thumbnailChanged.emit(node_id, image)

    def _on_finished(self, response: EvalResponse) -> None:
        if response.request_id < self._applied:
            return
        self._applied = response.request_id
        graph = self.doc.graph
        if response.preview is not None and self._interacting is not None:
            spent = sum(r.seconds for r in response.results.values() if r.status == "computed")
            self.preview_sizes[self._interacting] = next_preview_size(response.preview, spent)
        for node_id, result in response.results.items():
            if node_id not in graph:
                continue
            st = self.state(node_id)
            if result.status == "cancelled" and response.request_id < self._latest:
                continue
            st.status = result.status
            st.seconds = result.seconds
            st.message = result.error or ""
            st.preview = response.preview is not None
            if result.status in ("computed", "cached"):
                st.progress = 1.0
            if result.status == "computed":
                st.reason = result.reason
            st.notes = tuple(result.notes)
            if result.outputs:  # what the eyedropper and the histogram read
                self.outputs[node_id] = dict(result.outputs)
            self.nodeStateChanged.emit(node_id)
        for node_id, image in response.thumbnails.items():
            if node_id in graph:
                self.thumbnailChanged.emit(node_id, image)
        if response.error:
            self.viewChanged.emit(None, response.error.splitlines()[0])
        elif response.view is not None:
            self.viewChanged.emit(response.view, "")
        elif not response.view_unchanged and self.view_spec is not None:
            self.viewChanged.emit(None, self._no_view_message(response))
        if response.request_id >= self._latest:
            self._set_busy(False)
            done = "cancelled" if response.cancelled else f"{response.seconds * 1000:.0f} ms"
            kind = "preview" if response.preview else "full resolution"
            self.progressChanged.emit(1.0, f"evaluated ({kind}) in {done}")
        self.evaluated.emit(response)

    def _no_view_message(self, response: EvalResponse) -> str:
        spec = self.view_spec
        if spec is None or spec.node_id not in self.doc.graph:
            return "select a node to see its output"
        result = response.results.get(spec.node_id)
        if result is None:
            node_spec = self.doc.graph.spec(spec.node_id)
            if node_spec.writes_files:
                return f"{spec.node_id} writes files: use File ▸ Export or Render"
            return ""
        if result.status not in ("computed", "cached"):
            return f"{spec.node_id}: {result.error or result.status}"
        if not any(
            display.is_displayable(o.type_name) for o in self.doc.graph.spec(spec.node_id).outputs
        ):
            return f"{spec.node_id} has no picture to show"
        return ""

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    @property
    def busy(self) -> bool:
        return self._busy
