"""The evaluator: runs a graph snapshot in topological order through the slot cache.

Execution spec
--------------
1. Nodes run in topological order, the smallest node id first among nodes free to go
   (``PatchGraph.plan()``, built once per structural edit). ``targets`` restricts the
   run to those nodes and their ancestors. With ``strict=True`` (headless renders)
   unconnected required inputs are refused before anything runs; otherwise that node
   fails with a message and the rest of the graph still evaluates.
2. A node's key = hash(type id, version, params, keys of its inputs); path params that a
   node *reads* contribute a fingerprint of the file's bytes, and what a model node
   loads its identity. Each output's key derives from the node key and the output
   name. Keys are remembered per node (``keying.py``) while the node's spec, params,
   bypass and input keys stay equal, so a knob change re-keys only that node and its
   descendants. All outputs in cache → ``cached``, no compute.
3. A node that raises is ``failed`` with its message; its descendants are ``skipped``
   (naming the failed ancestor); siblings still run.
4. ``preview=N``: nodes that allow proxies run on inputs downscaled to a long side of N
   pixels; their results live in memory only and under keys of their own. Nodes that
   write files are skipped in preview. (Cache reads, proxies and stores:
   ``run_cache.py``.)
5. ``pull=True`` (command-line renders, batch jobs): an evaluation computes or reads
   only what its wanted nodes need. A node whose key is made but which no node has
   needed yet is a lazy hit (``cached``, source "not needed"): neither read nor run,
   whether or not its entry exists. Nodes that write files are never lazy: their
   ``Files`` hit must still match the files on disk. When a node must compute, each
   lazy input is read then; one with no entry (missing, evicted, corrupt) is run, after
   every lazy ancestor of it that has no entry either, in run order. At the end the
   wanted nodes — those that write files, else the nodes that feed no other node of
   the run — are read or run, so when they are cached nothing upstream is read. Any
   other lazy result is read when ``Evaluation.output`` asks for it. (``pull.py``.)
6. Cancellation is checked between nodes (and by nodes that call
   ``ctx.check_cancelled()``); the remaining nodes end ``cancelled``.
7. Events (``outcome.py``) go to ``listener`` synchronously on the evaluating thread:
   the UI marshals them to its own thread; with no listener none is made. An
   evaluation's state lives in its ``Run`` (``run_state.py``, with the events of a
   failure, a cancellation and a node's progress), so one Evaluator can serve several
   threads; the cache and the key memo are thread-safe.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable
from pathlib import Path

from .cache import SlotCache
from .consent import WriteGuard
from .errors import Cancelled, GatewayError, GraphError
from .graph import PatchGraph
from .keying import Keyed, NodeKeys, out_keys
from .keys import FileFingerprints, digest
from .node import Context, NodeSpec
from .outcome import (
    CancelToken,
    Evaluation,
    Event,
    Listener,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeResult,
    NodeStarted,
    Progress,
    Status,
)
from .pull import missing_upstream, wanted_nodes
from .reasons import ReasonBook, Why
from .run_cache import cached_outputs, proxy_input, store_outputs
from .run_state import (
    PRODUCED,
    Run,
    Step,
    UpstreamFailed,
    cancel_rest,
    fail,
    node_context,
    upstream_failure,
)
from .slots import Files, Slot

#: What ``NodeSpec.compute`` is handed for a node that takes no context (it passes it on
#: to nodes that do only).
_NO_CONTEXT = Context()


class Evaluator:
    def __init__(self, cache: SlotCache | None = None) -> None:
        self.cache = cache if cache is not None else SlotCache(None)
        disk = self.cache.disk
        self.fingerprints = FileFingerprints(disk.root / "fingerprints" if disk else None)
        #: Each node's last key ingredients, to say why it re-ran (beside the disk cache).
        self.reasons = ReasonBook(disk.root / "reasons" if disk is not None else None)
        #: Each node's last key, reused while what it is made of stays equal.
        self.keys = NodeKeys(self.fingerprints)

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
        plan = graph.plan()
        order, index = plan.order, plan.index
        if targets is not None:
            wanted = graph.upstream(targets)  # unknown target → GraphError
            order = tuple(n for n in order if n in wanted)
            index = {n: i for i, n in enumerate(order)}
        if strict:
            graph.check_ready(order)
        writes = WriteGuard(graph, base_dir)
        run = Run(graph, plan, {}, listener, cancel, preview, writes, len(order), pull, index)
        try:
            return self._run(run, order, start)
        finally:  # the nodes' key ingredients, for "why did it re-run" in a later process
            self.reasons.flush()

    def _run(self, run: Run, order: tuple[str, ...], start: float) -> Evaluation:
        results, emit, cancel = run.results, run.emit, run.cancel
        for i, node_id in enumerate(order):
            if cancel is not None and cancel.cancelled:
                return cancel_rest(run, order[i:], start)
            result = results[node_id] = self._run_node(run, node_id, i)
            if emit is not None:
                emit(Progress((i + 1) / run.total, i + 1, run.total))
            if result.status == "cancelled":
                return cancel_rest(run, order[i + 1 :], start)
        if run.pull:  # what the caller gets: the writers (else the ends), run or read now
            for node_id in wanted_nodes(run.graph, order):
                self._load(run, node_id)
        seconds = time.perf_counter() - start
        return Evaluation(results, seconds, loader=lambda n: self._read_later(run, n))

    def _read_later(self, run: Run, node_id: str) -> NodeResult:
        """``Evaluation.output`` of a lazy node: read (or run) it now."""
        try:
            return self._load(run, node_id)
        finally:
            self.reasons.flush()

    # -- one node: keys, then a bypass, a hit or a compute ---------------------------------
    def _run_node(self, run: Run, node_id: str, index: int, *, lazy_ok: bool = True) -> NodeResult:
        """One node, by the execution spec: keys from the inputs' keys, then the cache,
        then (on a miss) the inputs' values and the compute."""
        plan = run.plan
        inst = plan.nodes[node_id]
        step = Step(node_id, inst, plan.specs[node_id], time.perf_counter())
        failed = self._make_keys(run, step)
        if failed is not None:
            return failed
        if inst.bypass:
            return self._bypass(run, step)
        if run.emit is not None:
            run.emit(NodeStarted(node_id))
        hit = self._hit(run, step, lazy_ok)
        if hit is not None:
            return hit
        return self._compute(run, step, index)

    def _make_keys(self, run: Run, step: Step) -> NodeResult | None:
        """``step``'s input keys and keys (None), or why the node cannot run. Every link
        must come from a node that produced its slot, else the node is skipped, naming
        the failure."""
        node_id, spec, input_keys, results = step.node_id, step.spec, step.input_keys, run.results
        for slot_name, src, src_slot in run.plan.incoming[node_id]:
            upstream = results.get(src)
            if upstream is None or upstream.status not in PRODUCED:
                return fail(run, step, upstream_failure(upstream, src), "skipped")
            input_keys[slot_name] = upstream.keys[src_slot]
            if upstream.preview:
                step.from_preview = True
        missing = run.plan.missing[node_id]
        if missing:
            return fail(run, step, "required input not connected: " + ", ".join(missing))
        writes = spec.writes_files
        if writes and run.preview is not None:
            return fail(run, step, "not written while previewing", "skipped")
        try:  # hashing a source file: regular files only, capped, cancellable
            keyed = self.keys.keyed(
                node_id,
                spec,
                step.inst.params,
                step.inst.bypass,
                input_keys,
                run.base_dir,
                run.is_cancelled,
            )
        except GatewayError as exc:  # Cancelled is one too
            status: Status = "cancelled" if isinstance(exc, Cancelled) else "failed"
            return fail(run, step, str(exc), status)
        step.keyed = keyed
        if writes or run.preview is not None:
            self._own_keys(run, step, keyed)
        else:  # the node's own keys, as they are
            step.kept = not step.from_preview
            step.out_keys = keyed.out_keys
        return None

    @staticmethod
    def _own_keys(run: Run, step: Step, keyed: Keyed) -> None:
        """The output keys of a writer (they carry the patch) or of a preview run."""
        key = keyed.key
        if step.spec.writes_files:  # what it writes carries the patch (provenance)
            key = digest(key, "patch", run.patch_digest())
        step.proxy = run.preview is not None and step.spec.proxy
        if step.proxy:
            key = digest(key, "proxy", str(run.preview))
        step.kept = not (step.proxy or step.from_preview)
        step.out_keys = keyed.out_keys if key == keyed.key else out_keys(key, step.spec)

    def _hit(self, run: Run, step: Step, lazy_ok: bool) -> NodeResult | None:
        """A cache hit for every output, or None. Pulled runs don't read a hit that no
        one may need (a sink's Files are always read: they must still match the files)."""
        keys = step.out_keys
        if run.pull and lazy_ok and not step.spec.writes_files:  # run later, if ever needed
            hit = NodeResult(
                "cached",
                time.perf_counter() - step.t0,
                keys=keys,
                source="not needed",
                preview=not step.kept,
                lazy=True,
            )
        else:
            found = cached_outputs(self.cache, self.fingerprints, step.spec, keys)
            if found is None:
                return None
            hits, source = found
            keyed = step.keyed
            assert keyed is not None
            if keyed.noted != run.lineage:  # (a lazy node, not run yet, has nothing to file)
                self._remember(run, step, keyed)
            seconds = time.perf_counter() - step.t0
            hit = NodeResult(
                "cached", seconds, outputs=hits, keys=keys, source=source, preview=not step.kept
            )
        if run.emit is not None:
            run.emit(NodeFinished(step.node_id, hit.seconds, True, hit.source, hit.outputs))
        return hit

    def _remember(self, run: Run, step: Step, keyed: Keyed) -> None:
        """File a hit's key ingredients in the reason book (once per lineage: the hit
        path asks ``keyed.noted`` first)."""
        self.reasons.remember(run.lineage + step.node_id, keyed.made, persist=step.kept)
        if step.kept:
            keyed.noted = run.lineage

    def _revise(self, run: Run, step: Step) -> Why:
        """File a computed node's key ingredients, saying what changed since it last ran."""
        keyed = step.keyed
        assert keyed is not None
        why = self.reasons.revise(
            run.lineage + step.node_id,
            step.node_id,
            keyed.made,
            persist=step.kept,
            since=keyed.since,
        )
        if step.kept:
            keyed.noted = run.lineage
        return why

    def _compute(self, run: Run, step: Step, index: int) -> NodeResult:
        """Read the inputs, run the node, keep its outputs in the cache."""
        node_id, spec = step.node_id, step.spec
        try:
            inputs = self._input_values(run, node_id, spec)
        except UpstreamFailed as exc:
            return fail(run, step, str(exc), "skipped")
        if step.proxy:
            inputs = {
                n: proxy_input(self.cache, v, step.input_keys[n], run.preview)
                for n, v in inputs.items()
            }
        # its own time: not that of inputs pulled or downscaled now (the UI sizes the next
        # preview by it; a one-off downscale must not shrink the proxy it just made)
        step.t0 = t0 = time.perf_counter()
        ctx = (
            node_context(run, node_id, index, self.fingerprints)
            if spec.takes_context
            else _NO_CONTEXT
        )
        try:
            outputs = spec.compute(inputs, step.inst.params, ctx)
        except Cancelled:
            return fail(run, step, "evaluation cancelled", "cancelled")
        except GatewayError as exc:
            return fail(run, step, str(exc), tb=traceback.format_exc())
        except Exception as exc:
            return fail(run, step, f"{type(exc).__name__}: {exc}", tb=traceback.format_exc())
        seconds = time.perf_counter() - t0
        store_outputs(self.cache, step, outputs, seconds, run.plan.written_only)
        why = self._revise(run, step)
        if run.emit is not None:
            run.emit(NodeFinished(node_id, seconds, False, outputs=outputs, why=why))
        return NodeResult(
            "computed",
            seconds,
            outputs=outputs,
            keys=step.out_keys,
            source="computed",
            preview=not step.kept,
            why=why,
            ran_notes=tuple(ctx.notes) if ctx.notes else (),
        )

    def _load(self, run: Run, node_id: str) -> NodeResult:
        """A lazy hit's outputs, read now; recomputed if the entry has gone (evicted,
        corrupt or swapped) since it was seen."""
        result = run.results[node_id]
        if not result.lazy:
            return result
        found = cached_outputs(self.cache, self.fingerprints, run.plan.specs[node_id], result.keys)
        if found is not None:
            (result.outputs, result.source), result.lazy = found, False
            return result
        # Not in the cache (or gone since): run it, after every node it needs that has
        # no entry either, in topological order (a loop, not a recursion, so a long
        # chain with an empty cache is fine).
        for needed in missing_upstream(run, node_id, self.cache):
            run.results[needed] = self._run_node(run, needed, run.index[needed], lazy_ok=False)
        return run.results[node_id]

    def _bypass(self, run: Run, step: Step) -> NodeResult:
        """A bypassed node hands each output the first input of a compatible type; a
        bypassed sink (a ``Files`` output) writes nothing."""
        try:
            inputs = self._input_values(run, step.node_id, step.spec)
        except UpstreamFailed as exc:
            return fail(run, step, str(exc), "skipped")
        outputs: dict[str, Slot] = {}
        keys: dict[str, str] = {}
        for out in step.spec.outputs:
            for name, value in inputs.items():
                if isinstance(value, out.type):
                    outputs[out.name] = value
                    keys[out.name] = step.input_keys[name] or ""
                    break
            else:
                if out.type is Files:
                    outputs[out.name], keys[out.name] = Files((), ()), "bypassed-sink"
                    continue
                message = f"cannot bypass: no input can stand in for output '{out.name}'"
                return fail(run, step, message)
        seconds = time.perf_counter() - step.t0
        if run.emit is not None:
            run.emit(NodeFinished(step.node_id, seconds, True, "bypass", outputs))
        result = NodeResult("cached", seconds, outputs=outputs, keys=keys, source="bypass")
        result.preview = step.from_preview
        return result

    def _input_values(self, run: Run, node_id: str, spec: NodeSpec) -> dict[str, Slot | None]:
        """The node's inputs (coerced to its input types), read now if they were lazy."""
        inputs: dict[str, Slot | None] = {}
        results, by_name = run.results, spec.inputs_by_name
        for slot_name, src, src_slot in run.plan.incoming[node_id]:
            upstream = results[src]
            if upstream.lazy:
                upstream = self._load(run, src)
            value = upstream.outputs.get(src_slot)
            if value is None:  # a lazy hit that failed to recompute
                raise UpstreamFailed(upstream.error or f"upstream node {src} failed")
            in_spec = by_name.get(slot_name)
            if in_spec is not None and type(value) not in in_spec.types:
                value = in_spec.coerce(value)
            inputs[slot_name] = value
        return inputs


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
