"""Engine overhead: per-node cost on a 200-node chain, cached re-evaluation, cache hits.

    python benchmarks/engine.py

Prints figures; not a test. Targets (issue 2): < 1 ms evaluator overhead per node,
cached re-evaluation of the whole chain < 20 ms.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from gateway_studio.engine import (
    Depth,
    Evaluator,
    Field,
    Link,
    PatchGraph,
    Registry,
    SlotCache,
    node,
)


@node("bench.const", outputs={"field": Field})
def const(*, value: float = 0.5) -> Field:
    return Field(np.full((4, 4), value, np.float32))


@node("bench.pass", outputs={"field": Field})
def passthrough(a: Field, *, gain: float = 1.0) -> Field:
    return a  # trivial: measures the evaluator, not the node


def chain(n: int) -> PatchGraph:
    g = PatchGraph(Registry([const, passthrough]))
    g.add_node("bench.const", node_id="n0")
    for i in range(1, n):
        g.add_node("bench.pass", node_id=f"n{i}")
        g.connect(Link(f"n{i - 1}", "field", f"n{i}", "a"))
    return g


def timed(fn, repeat: int = 7) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    n = 200
    graph = chain(n)
    cold: list[float] = []
    for _ in range(5):
        evaluator = Evaluator(SlotCache(None))
        t0 = time.perf_counter()
        evaluator.evaluate(graph)
        cold.append(time.perf_counter() - t0)
    warm = timed(lambda: evaluator.evaluate(graph), repeat=20)
    graph.set_param("n150", "gain", 2.0)
    partial = evaluator.evaluate(graph)
    recomputed = sum(r.status == "computed" for r in partial.results.values())

    print(f"evaluator, {n}-node chain of trivial nodes")
    print(f"  cold evaluation        {statistics.median(cold) * 1e3:8.2f} ms "
          f"({statistics.median(cold) / n * 1e3:.3f} ms per node; target < 1 ms)")
    print(f"  cached re-evaluation   {statistics.median(warm) * 1e3:8.2f} ms "
          f"(target < 20 ms)")
    print(f"  knob at node 150       {recomputed} nodes recomputed (expected {n - 150})")

    depth = Depth(np.random.default_rng(0).random((2160, 3840), dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        cache = SlotCache(Path(tmp))
        cache.put("k4k", depth)
        mem = timed(lambda: cache.get("k4k"), repeat=50)
        disk = timed(lambda: SlotCache(Path(tmp)).get("k4k"), repeat=7)
        write = timed(lambda: cache.disk.put("w4k", depth), repeat=5)  # type: ignore[union-attr]
    print(f"cache, 4K float32 Depth slot ({depth.nbytes / 2**20:.0f} MiB)")
    print(f"  memory hit             {statistics.median(mem) * 1e6:8.1f} µs")
    print(f"  disk hit (verified)    {statistics.median(disk) * 1e3:8.1f} ms")
    print(f"  disk write             {statistics.median(write) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
