"""Evaluation off the UI thread, as request/response (napari's slicer pattern).

The UI hands ``EvalWorker.submit`` a frozen ``graph.snapshot()`` with targets and a preview
size; one Python thread runs ``Evaluator.evaluate`` on it. A newer request supersedes:
the pending one is dropped and the running one is cancelled (the evaluator checks between
nodes). Events and the final response cross to the UI thread through queued Qt signals.
The worker also turns slots into pictures (thumbnails, the viewed slot) so the UI thread
only ever draws ready-made ``QImage``s.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from qtpy.QtCore import QObject, Signal
from qtpy.QtGui import QImage

from gateway_studio.engine.cache import SlotCache
from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.evaluator import (
    CancelToken,
    Evaluator,
    Event,
    NodeFailed,
    NodeFinished,
    NodeResult,
    NodeStarted,
)
from gateway_studio.engine.graph import PatchGraph
from gateway_studio.engine.keys import default_cache_dir
from gateway_studio.engine.run_cache import PROXY_BASE
from gateway_studio.engine.slots import Faces, Image, Slot

from . import display

#: Long side of node thumbnails on the canvas (pixels).
THUMB_SIZE = 180
#: Long side of preview proxies while a knob is dragged (the largest the engine makes:
#: smaller ones, for slow nodes, are made from it).
PREVIEW_SIZE = PROXY_BASE


def make_evaluator(disk: bool = True) -> Evaluator:
    """The app's one Evaluator: memory LRU in front of the bundle store on disk."""
    return Evaluator(SlotCache(default_cache_dir() if disk else None))


@dataclass(frozen=True)
class ViewSpec:
    """What the viewer wants to see: a node's output slot (None: its first picture)."""

    node_id: str
    slot: str | None = None
    colormap: display.Colormap = "gray"


@dataclass
class EvalRequest:
    graph: PatchGraph
    targets: tuple[str, ...] | None = None
    preview: int | None = None
    view: ViewSpec | None = None
    thumbnails: bool = True
    id: int = 0
    submitted: float = field(default_factory=time.perf_counter)


@dataclass
class ViewImage:
    node_id: str
    slot_name: str
    slot: Slot
    image: QImage
    #: Output slot names that have a picture, for the viewer's slot picker.
    slots: tuple[str, ...] = ()


@dataclass
class EvalResponse:
    request_id: int
    preview: int | None
    cancelled: bool
    seconds: float
    results: dict[str, NodeResult]
    #: New thumbnails only (nodes whose output did not change keep theirs).
    thumbnails: dict[str, QImage]
    view: ViewImage | None
    #: An error that stopped the whole evaluation (a cycle, an unknown target).
    error: str | None = None
    submitted: float = 0.0
    #: The viewed slot is the same picture as in the previous response (view is None).
    view_unchanged: bool = False
    #: perf_counter stamps: "started" (worker picked it up), "evaluated", "done".
    stamps: dict[str, float] = field(default_factory=dict)


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """A QImage that owns its pixels (safe to build on any thread), in the 32-bit format
    the raster paint engine draws natively, so the UI thread never converts 4K pictures."""
    import cv2

    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    img = QImage(w, h, QImage.Format.Format_RGB32)  # 0xffRRGGBB: B, G, R, A bytes
    line = img.bytesPerLine()
    bits = np.frombuffer(img.bits(), np.uint8, count=h * line).reshape(h, line)
    cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA, dst=bits[:, : 4 * w].reshape(h, w, 4))
    return img


def first_picture_output(graph: PatchGraph, node_id: str) -> str | None:
    for out in graph.spec(node_id).outputs:
        if display.is_displayable(out.type_name):
            return out.name
    return None


def source_image(
    graph: PatchGraph, node_id: str, outputs_of: Mapping[str, Mapping[str, Slot]]
) -> Image | None:
    """The Image feeding a node (for Faces drawn over their photo)."""
    for _slot, (src, src_slot) in sorted(graph.incoming(node_id).items()):
        value = outputs_of.get(src, {}).get(src_slot)
        if isinstance(value, Image):
            return value
    return None


class SupersedeToken(CancelToken):
    """A CancelToken that can also stop *between* nodes only: a soft cancel lets the
    running node finish (nodes poll ``cancelled`` through their Context while running)."""

    def __init__(self) -> None:
        super().__init__()
        self._soft = False
        self._allowed: str | None = None
        #: The node running now (set from the evaluator's events), None between nodes.
        self.current: str | None = None

    def soft_cancel(self, allowed: str) -> None:
        """Stop, except for node ``allowed``, which may finish. Naming it (not "whatever
        runs now") closes a race: if ``allowed`` finished and the next node started between
        the caller reading ``current`` and this call, that next node is cancelled too."""
        self._allowed = allowed
        self._soft = True

    @property
    def cancelled(self) -> bool:
        return super().cancelled or (self._soft and self.current != self._allowed)


def same_upstream(old: PatchGraph, new: PatchGraph, node_id: str) -> bool:
    """Whether ``node_id`` and all its ancestors are configured alike in both snapshots."""
    if node_id not in new or node_id not in old or old.base_dir != new.base_dir:
        return False
    for n in old.ancestors(node_id) | {node_id}:
        if n not in new:
            return False
        a, b = old.node(n), new.node(n)
        if (a.type_id, a.params, a.bypass) != (b.type_id, b.params, b.bypass):
            return False
        if old.incoming(n) != new.incoming(n):
            return False
    return True


class EvalWorker(QObject):
    #: (request id, engine event) for every evaluator event, in order.
    nodeEvent = Signal(int, object)
    started = Signal(int)
    finished = Signal(object)  # EvalResponse
    #: (request id, node id, picture): a node's thumbnail, as soon as the node finishes.
    thumbnail = Signal(int, str, QImage)

    def __init__(self, evaluator: Evaluator | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.evaluator = evaluator or make_evaluator()
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._pending: EvalRequest | None = None
        self._running: tuple[int, SupersedeToken, PatchGraph] | None = None
        self._stop = False
        #: The slots each node's thumbnail was last drawn from (weak: the cache owns them).
        self._thumb_slots: dict[str, tuple[weakref.ref[Slot], weakref.ref[Slot] | None]] = {}
        self._view_key: tuple[str, ...] | None = None
        self._thread = threading.Thread(target=self._loop, name="gateway-eval", daemon=True)
        self._thread.start()

    # -- UI thread ----------------------------------------------------------------------
    def submit(self, request: EvalRequest) -> int:
        """Queue ``request``; it replaces any pending one and cancels the running one.

        If the node running right now is configured the same in the new request (same
        params and upstream), it may finish — its result is wanted and will be a cache
        hit for the new request — and the old evaluation stops right after it. So tweaking
        a knob downstream never restarts a long model inference upstream."""
        request.id = next(self._ids)
        with self._cond:
            self._pending = request
            if self._running is not None:
                _rid, token, graph = self._running
                current = token.current
                if current is not None and same_upstream(graph, request.graph, current):
                    token.soft_cancel(current)
                else:
                    token.cancel()
            self._cond.notify()
        return request.id

    def cancel(self) -> int | None:
        """Drop the pending request and stop the running one; returns the running one's
        id (the only request that will still answer), or None."""
        with self._cond:
            self._pending = None
            if self._running is not None:
                self._running[1].cancel()
                return self._running[0]
            return None

    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None or self._running is not None

    def forget_pictures(self, node_id: str | None = None) -> None:
        """Make the next response carry the thumbnail(s) again (after items were rebuilt)."""
        with self._cond:
            if node_id is None:
                self._thumb_slots.clear()
            else:
                self._thumb_slots.pop(node_id, None)
            self._view_key = None

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stop = True
            self._pending = None
            if self._running is not None:
                self._running[1].cancel()
            self._cond.notify()
        self._thread.join(timeout)

    # -- worker thread ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                request, self._pending = self._pending, None
                token = SupersedeToken()
                self._running = (request.id, token, request.graph)
            try:
                response = self._run(request, token)
            except Exception as exc:  # never let the thread die: report and carry on
                response = EvalResponse(
                    request.id,
                    request.preview,
                    False,
                    0.0,
                    {},
                    {},
                    None,
                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                    request.submitted,
                )
            with self._cond:
                self._running = None
                stop = self._stop
            if not stop:
                self.finished.emit(response)

    def _run(self, request: EvalRequest, token: SupersedeToken) -> EvalResponse:
        stamps = {"started": time.perf_counter()}
        self.started.emit(request.id)
        rid = request.id

        seen: dict[str, Mapping[str, Slot]] = {}

        def listener(ev: Event) -> None:
            if isinstance(ev, NodeStarted):
                token.current = ev.node_id
            elif isinstance(ev, (NodeFinished, NodeFailed)):
                token.current = None
            self.nodeEvent.emit(rid, ev)
            if isinstance(ev, NodeFinished) and ev.outputs:
                seen[ev.node_id] = ev.outputs
                if request.thumbnails:
                    image = self._thumbnail(request.graph, ev.node_id, ev.outputs, seen)
                    if image is not None:
                        self.thumbnail.emit(rid, ev.node_id, image)

        try:
            evaluation = self.evaluator.evaluate(
                request.graph,
                targets=request.targets,
                listener=listener,
                cancel=token,
                preview=request.preview,
            )
        except GatewayError as exc:
            return EvalResponse(
                rid, request.preview, False, 0.0, {}, {}, None, str(exc), request.submitted
            )
        results = evaluation.results
        thumbs: dict[str, QImage] = {}
        if request.thumbnails:  # nodes whose event carried no outputs
            outputs_of = {n: r.outputs for n, r in results.items()}
            for node_id, result in results.items():
                if node_id in seen or result.status not in ("computed", "cached"):
                    continue
                image = self._thumbnail(request.graph, node_id, result.outputs, outputs_of)
                if image is not None:
                    thumbs[node_id] = image
        stamps["evaluated"] = time.perf_counter()
        view, unchanged = self._view(request, results)
        stamps["done"] = time.perf_counter()
        return EvalResponse(
            rid,
            request.preview,
            evaluation.cancelled,
            evaluation.seconds,
            results,
            thumbs,
            view,
            None,
            request.submitted,
            unchanged,
            stamps,
        )

    def _thumbnail(
        self,
        graph: PatchGraph,
        node_id: str,
        outputs: Mapping[str, Slot],
        outputs_of: Mapping[str, Mapping[str, Slot]],
    ) -> QImage | None:
        """A new thumbnail of the node's first picture, or None if it has not changed."""
        name = first_picture_output(graph, node_id)
        if name is None or name not in outputs:
            return None
        slot = outputs[name]
        src = source_image(graph, node_id, outputs_of) if isinstance(slot, Faces) else None
        last = self._thumb_slots.get(node_id)
        if last is not None and last[0]() is slot and (last[1]() if last[1] else None) is src:
            return None
        src_rgb = display.to_rgb(src) if src is not None else None
        rgb = display.thumbnail(slot, THUMB_SIZE, source=src_rgb)
        if rgb is None:
            return None
        self._thumb_slots[node_id] = (weakref.ref(slot), weakref.ref(src) if src else None)
        return qimage_from_rgb(rgb)

    def _view(
        self, request: EvalRequest, results: dict[str, NodeResult]
    ) -> tuple[ViewImage | None, bool]:
        """(picture of the viewed slot, unchanged since the last one sent)."""
        spec = request.view
        if spec is None or spec.node_id not in results:
            # the viewer shows no picture of ours now (an export node is not evaluated):
            # the next one must be sent even if it is the same as the last
            self._view_key = None
            return None, False
        result = results[spec.node_id]
        if result.status not in ("computed", "cached"):
            self._view_key = None
            return None, False
        graph = request.graph
        names = tuple(
            o.name
            for o in graph.spec(spec.node_id).outputs
            if display.is_displayable(o.type_name) and o.name in result.outputs
        )
        if not names:
            self._view_key = None
            return None, False
        name = spec.slot if spec.slot in names else names[0]
        slot = result.outputs[name]
        outputs_of = {n: r.outputs for n, r in results.items()}
        src = source_image(graph, spec.node_id, outputs_of) if isinstance(slot, Faces) else None
        key = (spec.node_id, name, spec.colormap, result.keys.get(name, ""), str(id(src)))
        if key == self._view_key and not isinstance(slot, Faces):
            return None, True
        rgb = display.to_rgb(
            slot, spec.colormap, source=display.to_rgb(src) if src is not None else None
        )
        if rgb is None:
            return None, False
        self._view_key = key
        return ViewImage(spec.node_id, name, slot, qimage_from_rgb(rgb), names), False
