"""One evaluation on its way through a graph (``evaluator.py``): what it carries from node
to node (``Run``), one node's keys while it runs (``Step``), and what it tells its
listener — a node failed or skipped, the rest cancelled, a node's own progress through
the ``Context`` it is handed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import provenance
from .consent import WriteGuard
from .graph import NodeInstance, PatchGraph, Plan
from .keying import Keyed
from .keys import FileFingerprints, digest
from .node import Context, NodeSpec
from .outcome import (
    CancelToken,
    Evaluation,
    Listener,
    NodeFailed,
    NodeProgress,
    NodeResult,
    Progress,
    Status,
)
from .reasons import ReasonBook

#: The statuses of a node whose outputs its consumers can read.
PRODUCED = ("computed", "cached")


@dataclass
class Run:
    """What one ``Evaluator.evaluate`` call carries from node to node."""

    graph: PatchGraph
    plan: Plan
    results: dict[str, NodeResult]
    #: The listener, or None: then no event is made at all.
    emit: Listener | None
    cancel: CancelToken | None
    preview: int | None
    writes: WriteGuard
    total: int
    pull: bool
    #: Each node's place in the run's order (lazily run nodes report progress by it).
    index: Mapping[str, int]
    #: A digest of the patch JSON, made when a writer first needs it: writers embed the
    #: patch in what they write (``provenance.py``), so it is part of their keys.
    patch_key: str | None = None

    def __post_init__(self) -> None:
        #: The folder relative paths resolve against (the write guard's).
        self.base_dir = self.writes.base_dir
        #: ``ReasonBook.lineage(base_dir, node_id)`` is this + the node id.
        self.lineage = ReasonBook.lineage(self.base_dir, "")
        cancel = self.cancel
        #: What nodes and file hashing poll for cancellation (None: no token).
        self.is_cancelled: Callable[[], bool] | None = (
            (lambda: cancel.cancelled) if cancel is not None else None
        )

    def patch_digest(self) -> str:
        if self.patch_key is None:
            data = provenance.patch_digest_data(self.graph)
            self.patch_key = digest(json.dumps(data, sort_keys=True, default=str))
        return self.patch_key


class Step:
    """One node on its way through ``Evaluator._run_node``: who it is, and its keys once
    made."""

    __slots__ = (
        "from_preview",
        "input_keys",
        "inst",
        "kept",
        "keyed",
        "node_id",
        "out_keys",
        "proxy",
        "spec",
        "t0",
    )

    def __init__(self, node_id: str, inst: NodeInstance, spec: NodeSpec, t0: float) -> None:
        self.node_id, self.inst, self.spec, self.t0 = node_id, inst, spec, t0
        self.input_keys: dict[str, str | None] = {}
        self.from_preview = False
        self.proxy = False
        #: Whether its results may go to disk: not made from preview proxies.
        self.kept = True
        #: Its key (``keying.Keyed``: what it was made of), and its outputs' keys (a
        #: writer's and a proxy's have more in them).
        self.keyed: Keyed | None = None
        self.out_keys: dict[str, str] = {}


class UpstreamFailed(Exception):
    """A node cannot run: an input's node did not produce its slot (the message says why)."""


def upstream_failure(upstream: NodeResult | None, src: str) -> str:
    """Why a node fed by ``src`` (whose result is ``upstream``) cannot run."""
    if upstream is not None and upstream.status == "skipped" and upstream.error:
        return upstream.error  # names the original failure
    return f"upstream node {src} failed"


def fail(
    run: Run, step: Step, message: str, status: Status = "failed", tb: str | None = None
) -> NodeResult:
    if run.emit is not None:
        run.emit(NodeFailed(step.node_id, message, status))
    return NodeResult(status, time.perf_counter() - step.t0, message, traceback=tb)


def cancel_rest(run: Run, rest: Iterable[str], start: float) -> Evaluation:
    """The nodes of ``rest`` end ``cancelled``; the evaluation says it was cancelled."""
    for node_id in rest:
        run.results[node_id] = NodeResult("cancelled", error="evaluation cancelled")
        if run.emit is not None:
            run.emit(NodeFailed(node_id, "evaluation cancelled", "cancelled"))
    return Evaluation(run.results, time.perf_counter() - start, cancelled=True)


def node_context(run: Run, node_id: str, index: int, fingerprints: FileFingerprints) -> Context:
    """What the node at ``index`` of the run may ask of the evaluator while it computes."""
    emit, base_dir = run.emit, run.writes.base_dir

    def report(fraction: float, message: str) -> None:
        if emit is not None:
            emit(NodeProgress(node_id, fraction, message))
            emit(Progress((index + fraction) / run.total, index, run.total))

    return Context(
        node_id=node_id,
        base_dir=base_dir,
        preview=run.preview is not None,
        report=report,
        cancelled=run.is_cancelled,
        writes=run.writes,
        provenance=_provenance(run, node_id, base_dir, fingerprints),
    )


def _provenance(
    run: Run, node_id: str, base_dir: Path | None, fingerprints: FileFingerprints
) -> Callable[[Path, str], dict[str, Any]]:
    def make(target: Path, mode: str) -> dict[str, Any]:
        graph = run.graph
        if base_dir != graph.base_dir:  # evaluated against another folder
            graph = graph.snapshot()
            graph.base_dir = base_dir
        return provenance.build(graph, node_id, target, mode, fingerprints.of)  # type: ignore[arg-type]

    return make
