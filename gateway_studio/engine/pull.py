"""Pulled evaluations (item 5 of the execution spec in ``evaluator.py``): which nodes a
pulled run hands back, and which lazy ancestors of a node must run before it because
the cache has no entry for them."""

from __future__ import annotations

from collections.abc import Iterable

from .cache import SlotCache
from .graph import PatchGraph
from .run_state import Run


def wanted_nodes(graph: PatchGraph, order: Iterable[str]) -> list[str]:
    """What a pulled run returns: its nodes that write files, or, with none, the nodes
    of ``order`` that feed no other node of it."""
    order = list(order)
    writers = [n for n in order if graph.spec(n).writes_files]
    if writers:
        return writers
    feeding = {src for n in order for src, _ in graph.incoming(n).values()}
    return [n for n in order if n not in feeding]


def missing_upstream(run: Run, node_id: str, cache: SlotCache) -> list[str]:
    """``node_id`` and its unread ancestors without a cache entry, in run order."""
    found = {node_id}
    stack = [node_id]
    while stack:
        for _, src, _ in run.plan.incoming[stack.pop()]:
            upstream = run.results.get(src)
            if src in found or upstream is None or not upstream.lazy:
                continue
            if all(cache.has(k) for k in upstream.keys.values()):
                continue  # read when its consumer asks (``Evaluator._input_values``)
            found.add(src)
            stack.append(src)
    return sorted(found, key=run.index.__getitem__)
