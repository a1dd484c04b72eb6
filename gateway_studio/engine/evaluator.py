"""The evaluator: runs a graph snapshot in topological order through the slot cache.

Execution spec
--------------
1. Nodes run in networkx topological order (lexicographic tie-break). ``targets``
   restricts the run to those nodes and their ancestors. With ``strict=True`` (headless
   renders) unconnected required inputs are refused before anything runs; otherwise that
   node fails with a message and the rest of the graph still evaluates.
2. A node's key = hash(type id, version, params, keys of its inputs); path params that a
   node *reads* contribute a fingerprint of the file's bytes. Each output's key derives
   from the node key and the output name. All outputs in cache → ``cached``, no compute.
3. A node that raises is ``failed`` with its message; its descendants are ``skipped``
   (naming the failed ancestor); siblings still run.
4. ``preview=N``: nodes that allow proxies run on inputs downscaled to a long side of N
   pixels; their results live in memory only and under keys of their own. Nodes that
   write files are skipped in preview.
5. Cancellation is checked between nodes (and by nodes that call
   ``ctx.check_cancelled()``); the remaining nodes end ``cancelled``.
6. Events go to ``listener`` synchronously on the evaluating thread: the UI marshals
   them to its own thread. ``evaluate`` keeps no state between calls, so one Evaluator can
   serve several threads; the cache is thread-safe.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import provenance
from .cache import SlotCache
from .consent import WriteGuard
from .errors import Cancelled, GatewayError, GraphError
from .graph import PatchGraph
from .keys import FileFingerprints, digest, node_key
from .node import Context, NodeSpec
from .reasons import ReasonBook, ingredients
from .slots import Files, Slot

Status = Literal["computed", "cached", "failed", "skipped", "cancelled"]


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStarted:
    node_id: str


@dataclass(frozen=True)
class NodeProgress:
    node_id: str
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class NodeFinished:
    node_id: str
    seconds: float
    cached: bool
    #: "memory", "disk" for hits; "computed" otherwise.
    source: str = "computed"
    #: The node's output slots (read-only), so a UI can draw them as soon as they exist.
    outputs: dict[str, Slot] = field(default_factory=dict, compare=False, repr=False)
    #: Computed: what changed since it last ran (``reasons.py``).
    reason: str = ""


@dataclass(frozen=True)
class NodeFailed:
    node_id: str
    error: str
    #: "failed" (its own error), "skipped" (an upstream node failed) or "cancelled".
    status: Status = "failed"


@dataclass(frozen=True)
class Progress:
    fraction: float
    done: int
    total: int


Event = NodeStarted | NodeProgress | NodeFinished | NodeFailed | Progress
Listener = Callable[[Event], None]


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class NodeResult:
    status: Status
    seconds: float = 0.0
    error: str | None = None
    outputs: dict[str, Slot] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    source: str = ""
    traceback: str | None = None
    #: Made from preview proxies (here or upstream): kept in memory only, never on disk.
    preview: bool = False
    #: Computed: what changed since the node last ran ("param fog.density 1.2 → 1.5").
    reason: str = ""
    #: Pulled evaluations: a node nobody downstream needed (its consumers were cached),
    #: so neither read nor run (``outputs`` is empty until ``Evaluation.output`` asks).
    lazy: bool = False

    @property
    def notes(self) -> list[str]:
        """What the outputs say a user must know (holes filled, calibration, provenance)."""
        return [note for slot in self.outputs.values() for note in slot.notes()]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }
        if self.status == "computed":
            out["reason"] = self.reason
        elif self.status == "cached" and self.source:
            out["source"] = self.source  # memory / disk / bypass / not needed
        notes = self.notes
        if notes:
            out["notes"] = notes
        return out


@dataclass
class Evaluation:
    results: dict[str, NodeResult]
    seconds: float
    cancelled: bool = False
    #: Reads a lazy (pulled, unread) cache hit when someone asks for its outputs.
    loader: Callable[[str], NodeResult] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(
            r.status in ("computed", "cached") for r in self.results.values()
        )

    def output(self, node_id: str, slot: str | None = None) -> Slot:
        result = self.results[node_id]
        if result.lazy and self.loader is not None:
            result = self.loader(node_id)
        if result.status not in ("computed", "cached"):
            raise GatewayError(f"node '{node_id}' has no output: {result.error}")
        if slot is None:
            return next(iter(result.outputs.values()))
        return result.outputs[slot]

    def report(self) -> dict[str, Any]:
        return {
            "nodes": {nid: r.to_json() for nid, r in self.results.items()},
            "seconds": round(self.seconds, 6),
            "ok": self.ok,
            "cancelled": self.cancelled,
        }


@dataclass
class _Run:
    """What one ``evaluate`` call carries from node to node."""

    graph: PatchGraph
    results: dict[str, NodeResult]
    emit: Listener
    cancel: CancelToken | None
    preview: int | None
    writes: WriteGuard
    total: int
    pull: bool
    #: Each node's place in the run's order (lazily run nodes report progress by it).
    index: dict[str, int] = field(default_factory=dict)
    #: A digest of the patch JSON, made when a writer first needs it: writers embed the
    #: patch in what they write (``provenance.py``), so it is part of their keys.
    patch_key: str | None = None

    def patch_digest(self) -> str:
        if self.patch_key is None:
            data = provenance.patch_digest_data(self.graph)
            self.patch_key = digest(json.dumps(data, sort_keys=True, default=str))
        return self.patch_key


def _wanted(graph: PatchGraph, order: list[str]) -> list[str]:
    """What a pulled run returns: its nodes that write files, or, with none, the nodes
    of ``order`` that feed no other node of it."""
    writers = [n for n in order if graph.spec(n).writes_files]
    if writers:
        return writers
    feeding = {src for n in order for src, _ in graph.incoming(n).values()}
    return [n for n in order if n not in feeding]


class _UpstreamFailed(Exception):
    """A node cannot run: an input's node did not produce its slot (the message says why)."""


class Evaluator:
    def __init__(self, cache: SlotCache | None = None) -> None:
        self.cache = cache if cache is not None else SlotCache(None)
        disk = self.cache.disk
        self.fingerprints = FileFingerprints(disk.root / "fingerprints" if disk else None)
        #: Each node's last key ingredients, to say why it re-ran (beside the disk cache).
        self.reasons = ReasonBook(disk.root / "reasons" if disk is not None else None)

    def evaluate(
        self,
        graph: PatchGraph,
        *,
        targets: Iterable[str] | None = None,
        listener: Listener | None = None,
        cancel: CancelToken | None = None,
        preview: int | None = None,
        strict: bool = False,
        base_dir: Path | None = None,
        pull: bool = False,
    ) -> Evaluation:
        start = time.perf_counter()
        base_dir = base_dir if base_dir is not None else graph.base_dir
        order = graph.topological_order()
        if targets is not None:
            wanted = graph.upstream(targets)  # unknown target → GraphError
            order = [n for n in order if n in wanted]
        if strict:
            graph.check_ready(order)
        run = _Run(
            graph,
            {},
            listener or (lambda event: None),
            cancel,
            preview,
            WriteGuard(graph, base_dir),
            len(order),
            pull,
            {n: i for i, n in enumerate(order)},
        )
        results = run.results
        for index, node_id in enumerate(order):
            if cancel is not None and cancel.cancelled:
                return self._cancelled(run, order[index:], start)
            result = self._run_node(run, node_id, index)
            results[node_id] = result
            run.emit(Progress((index + 1) / run.total, index + 1, run.total))
            if result.status == "cancelled":
                return self._cancelled(run, order[index + 1 :], start)
        if pull:  # what the caller gets: the writers (else the ends), run or read now
            for node_id in _wanted(graph, order):
                self._load(run, node_id)
        return Evaluation(results, time.perf_counter() - start, loader=lambda n: self._load(run, n))

    @staticmethod
    def _cancelled(run: _Run, rest: list[str], start: float) -> Evaluation:
        for node_id in rest:
            run.results[node_id] = NodeResult("cancelled", error="evaluation cancelled")
            run.emit(NodeFailed(node_id, "evaluation cancelled", "cancelled"))
        return Evaluation(run.results, time.perf_counter() - start, cancelled=True)

    # ------------------------------------------------------------------------------------
    def _run_node(self, run: _Run, node_id: str, index: int, *, lazy_ok: bool = True) -> NodeResult:
        """One node, by the execution spec: keys from the inputs' keys, then the cache,
        then (on a miss) the inputs' values and the compute."""
        graph, emit = run.graph, run.emit
        inst = graph.node(node_id)
        spec = graph.registry.get(inst.type_id)
        t0 = time.perf_counter()

        def fail(message: str, status: Status = "failed", tb: str | None = None) -> NodeResult:
            emit(NodeFailed(node_id, message, status))
            return NodeResult(status, time.perf_counter() - t0, message, traceback=tb)

        try:
            input_keys, from_preview = self._input_keys(graph, node_id, run.results)
        except _UpstreamFailed as exc:
            return fail(str(exc), "skipped")
        missing = [i.name for i in spec.inputs if not i.optional and i.name not in input_keys]
        if missing:
            return fail("required input not connected: " + ", ".join(missing))
        if run.preview is not None and spec.writes_files:
            return fail("not written while previewing", "skipped")

        base_dir = run.writes.base_dir
        token = run.cancel
        cancelled = (lambda: token.cancelled) if token is not None else None
        made: dict[str, Any] = {}  # the key's ingredients, for the reason it re-runs
        try:  # hashing a source file: regular files only, capped, cancellable
            key = self._key(
                spec, inst.params, input_keys, base_dir, inst.bypass, cancelled, made=made
            )
        except GatewayError as exc:  # Cancelled is one too
            return fail(str(exc), "cancelled" if isinstance(exc, Cancelled) else "failed")
        if spec.writes_files:  # what it writes carries the patch (provenance)
            key = digest(key, "patch", run.patch_digest())
        proxy = run.preview is not None and spec.proxy
        if proxy:
            key = digest(key, "proxy", str(run.preview))
        out_keys = {o.name: digest(key, o.name) for o in spec.outputs}

        if inst.bypass:
            try:
                inputs = self._input_values(run, node_id, spec)
            except _UpstreamFailed as exc:
                return fail(str(exc), "skipped")
            result = self._bypass(spec, node_id, inputs, input_keys, emit, t0)
            result.preview = from_preview
            return result

        emit(NodeStarted(node_id))
        lineage = ReasonBook.lineage(base_dir, node_id)
        kept = not (proxy or from_preview)
        hit = self._hit(run, spec, out_keys, lazy_ok)
        if hit is not None:
            if not hit.lazy:  # a node not run (yet) has nothing to remember
                self.reasons.remember(lineage, made, persist=kept)
            hit.seconds = time.perf_counter() - t0
            hit.preview = proxy or from_preview
            emit(NodeFinished(node_id, hit.seconds, True, hit.source, hit.outputs))
            return hit

        try:
            inputs = self._input_values(run, node_id, spec)
        except _UpstreamFailed as exc:
            return fail(str(exc), "skipped")
        t0 = time.perf_counter()  # its own time: not that of upstream nodes pulled just now
        if proxy:
            inputs = {n: self._proxy(v, input_keys[n], run.preview) for n, v in inputs.items()}

        def report(fraction: float, message: str) -> None:
            emit(NodeProgress(node_id, fraction, message))
            emit(Progress((index + fraction) / run.total, index, run.total))

        ctx = Context(
            node_id=node_id,
            base_dir=base_dir,
            preview=run.preview is not None,
            report=report,
            cancelled=cancelled,
            writes=run.writes,
            provenance=self._provenance(run, node_id, base_dir),
        )
        try:
            outputs = spec.compute(inputs, inst.params, ctx)
        except Cancelled:
            return fail("evaluation cancelled", "cancelled")
        except GatewayError as exc:
            return fail(str(exc), tb=traceback.format_exc())
        except Exception as exc:
            return fail(f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
        seconds = time.perf_counter() - t0
        for name, slot in outputs.items():
            # Throwaway preview results (a proxy here, or proxy inputs from upstream)
            # must not fill the disk store on every knob step; the rest goes to disk
            # if it pays (``cache.worth_persisting``: model outputs, small slots, or
            # slower to compute than to store and read back).
            self.cache.put(
                out_keys[name],
                slot,
                persist=kept,
                seconds=seconds / len(outputs),
                expensive=spec.identity is not None,
            )
        reason = self.reasons.explain(lineage, node_id, made)
        self.reasons.remember(lineage, made, persist=kept)
        emit(NodeFinished(node_id, seconds, False, outputs=outputs, reason=reason))
        return NodeResult(
            "computed",
            seconds,
            outputs=outputs,
            keys=out_keys,
            source="computed",
            preview=proxy or from_preview,
            reason=reason,
        )

    def _provenance(
        self, run: _Run, node_id: str, base_dir: Path | None
    ) -> Callable[[Path, str], dict[str, Any]]:
        def make(target: Path, mode: str) -> dict[str, Any]:
            graph = run.graph
            if base_dir != graph.base_dir:  # evaluated against another folder
                graph = graph.snapshot()
                graph.base_dir = base_dir
            return provenance.build(graph, node_id, target, mode, self.fingerprints.of)  # type: ignore[arg-type]

        return make

    def _hit(
        self, run: _Run, spec: NodeSpec, out_keys: dict[str, str], lazy_ok: bool
    ) -> NodeResult | None:
        """A cache hit for every output, or None. Pulled runs don't read a hit that no
        one may need (a sink's Files are always read: they must still match the files)."""
        if run.pull and lazy_ok and not spec.writes_files:  # run later, if ever needed
            return NodeResult("cached", keys=out_keys, source="not needed", lazy=True)
        hits, source = self._cached(out_keys)
        if len(hits) < len(out_keys):
            return None
        return NodeResult("cached", outputs=hits, keys=out_keys, source=source)

    def _load(self, run: _Run, node_id: str) -> NodeResult:
        """A lazy hit's outputs, read now; recomputed if the entry has gone (evicted,
        corrupt or swapped) since it was seen."""
        result = run.results[node_id]
        if not result.lazy:
            return result
        hits, source = self._cached(result.keys)
        if len(hits) == len(result.keys):
            result.outputs, result.source, result.lazy = hits, source, False
            return result
        # Not in the cache (or gone since): run it, after every node it needs that has
        # no entry either, in topological order (a loop, not a recursion, so a long
        # chain with an empty cache is fine).
        for needed in self._missing_upstream(run, node_id):
            run.results[needed] = self._run_node(run, needed, run.index[needed], lazy_ok=False)
        return run.results[node_id]

    def _missing_upstream(self, run: _Run, node_id: str) -> list[str]:
        """``node_id`` and its unread ancestors without a cache entry, in run order."""
        found = {node_id}
        stack = [node_id]
        while stack:
            for src, _ in run.graph.incoming(stack.pop()).values():
                upstream = run.results.get(src)
                if src in found or upstream is None or not upstream.lazy:
                    continue
                if all(self.cache.has(k) for k in upstream.keys.values()):
                    continue  # read when its consumer asks (``_input_values``)
                found.add(src)
                stack.append(src)
        return sorted(found, key=run.index.__getitem__)

    def _key(
        self,
        spec: NodeSpec,
        params: dict[str, Any],
        input_keys: dict[str, str | None],
        base_dir: Path | None,
        bypass: bool,
        cancelled: Callable[[], bool] | None = None,
        *,
        made: dict[str, Any] | None = None,
    ) -> str:
        """The node's key; ``made`` receives its ingredients (``reasons.ingredients``)."""
        keyed: dict[str, Any] = {}
        files: dict[str, str] = {}
        for p in spec.params:
            value = params.get(p.name, p.default)
            if p.kind == "path" and value:
                path = Context(base_dir=base_dir).resolve_path(str(value))
                if not p.save:
                    files[p.name] = str(path)
                value = (
                    str(path.resolve())
                    if p.save
                    else self.fingerprints.of(path, cancelled=cancelled)
                )
            keyed[p.name] = value
        if spec.identity is not None:
            try:
                keyed["__identity__"] = spec.identity(params, Context(base_dir=base_dir))
            except Exception as exc:  # the node will fail on its own; keep the key honest
                keyed["__identity__"] = f"unresolved:{type(exc).__name__}:{exc}"
        if bypass:
            keyed["__bypass__"] = True
        if made is not None:
            made.update(ingredients(spec.version, keyed, files, input_keys))
        return node_key(spec.type_id, spec.version, keyed, input_keys)

    def _bypass(
        self,
        spec: NodeSpec,
        node_id: str,
        inputs: dict[str, Slot | None],
        input_keys: dict[str, str | None],
        emit: Listener,
        t0: float,
    ) -> NodeResult:
        """A bypassed node hands each output the first input of a compatible type; a
        bypassed sink (a ``Files`` output) writes nothing."""
        outputs: dict[str, Slot] = {}
        keys: dict[str, str] = {}
        for out in spec.outputs:
            for name, value in inputs.items():
                if isinstance(value, out.type):
                    outputs[out.name] = value
                    keys[out.name] = input_keys[name] or ""
                    break
            else:
                if out.type is Files:
                    outputs[out.name], keys[out.name] = Files((), ()), "bypassed-sink"
                    continue
                message = f"cannot bypass: no input can stand in for output '{out.name}'"
                emit(NodeFailed(node_id, message))
                return NodeResult("failed", time.perf_counter() - t0, message)
        seconds = time.perf_counter() - t0
        emit(NodeFinished(node_id, seconds, True, "bypass", outputs))
        return NodeResult("cached", seconds, outputs=outputs, keys=keys, source="bypass")

    def _proxy(self, value: Slot | None, key: str | None, long_side: int | None) -> Slot | None:
        if value is None or long_side is None or value.size is None:
            return value
        h, w = value.size
        if max(h, w) <= long_side:
            return value
        scale = long_side / max(h, w)
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        proxy_key = digest(key or "", "proxy-input", f"{size[0]}x{size[1]}")
        cached, _ = self.cache.get(proxy_key)
        if cached is not None:
            return cached
        small = value.resized(*size)
        self.cache.put(proxy_key, small, persist=False)
        return small

    @staticmethod
    def _input_keys(
        graph: PatchGraph, node_id: str, results: dict[str, NodeResult]
    ) -> tuple[dict[str, str | None], bool]:
        """(the keys of the node's inputs, whether any is a preview proxy); every link must
        come from a node that produced its slot, else ``_UpstreamFailed`` naming it."""
        from_preview = False
        input_keys: dict[str, str | None] = {}
        for slot_name, (src, src_slot) in sorted(graph.incoming(node_id).items()):
            upstream = results.get(src)
            if upstream is None or upstream.status not in ("computed", "cached"):
                if upstream is not None and upstream.status == "skipped" and upstream.error:
                    raise _UpstreamFailed(upstream.error)  # names the original failure
                raise _UpstreamFailed(f"upstream node {src} failed")
            input_keys[slot_name] = upstream.keys[src_slot]
            from_preview = from_preview or upstream.preview
        return input_keys, from_preview

    def _input_values(self, run: _Run, node_id: str, spec: NodeSpec) -> dict[str, Slot | None]:
        """The node's inputs (coerced to its input types), read now if they were lazy."""
        inputs: dict[str, Slot | None] = {}
        for slot_name, (src, src_slot) in sorted(run.graph.incoming(node_id).items()):
            upstream = self._load(run, src) if run.results[src].lazy else run.results[src]
            value = upstream.outputs.get(src_slot)
            if value is None:  # a lazy hit that failed to recompute
                raise _UpstreamFailed(upstream.error or f"upstream node {src} failed")
            in_spec = spec.input(slot_name)
            inputs[slot_name] = in_spec.coerce(value) if in_spec else value
        return inputs

    def _cached(self, out_keys: dict[str, str]) -> tuple[dict[str, Slot], str]:
        """The outputs found in the cache (all or some), and where: "memory" or "disk".
        A ``Files`` hit counts only while the files it wrote are still those bytes."""
        hits: dict[str, Slot] = {}
        source = "memory"
        for name, k in out_keys.items():
            slot, where = self.cache.get(k)
            if slot is None or (isinstance(slot, Files) and not self._files_intact(slot)):
                break
            hits[name] = slot
            if where == "disk":
                source = "disk"
        return hits, source

    def _files_intact(self, files: Files) -> bool:
        try:
            return all(
                self.fingerprints.of(Path(p)) == fp
                for p, fp in zip(files.paths, files.fingerprints, strict=True)
            )
        except GatewayError:  # no longer a regular file: write it again
            return False


__all__ = [
    "CancelToken",
    "Evaluation",
    "Evaluator",
    "Event",
    "GraphError",
    "Listener",
    "NodeFailed",
    "NodeFinished",
    "NodeProgress",
    "NodeResult",
    "NodeStarted",
    "Progress",
]
