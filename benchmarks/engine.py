"""Engine overhead: a 200-node chain beside ryvencore 0.5, the disk cache's cost, cache hits.

    .venv/bin/python benchmarks/engine.py            # ~1 min
    .venv/bin/python benchmarks/engine.py --smoke    # a few seconds (CI)

Prints figures; not a test. Every engine figure has a reference measured in the same
run, alternating with it so both see the same load:

* **chain, memory cache.** 200 nodes (``--smoke``: 40): a constant, then nodes that
  each multiply a 4x4 Field by their ``gain``. The same two node functions run in our
  evaluator and in ryvencore 0.5 (``pip install ryvencore==0.5.0``, the ``bench``
  extra) as a data flow, where a changed node pushes its output downstream. Full run:
  a fresh evaluator (empty memory cache) against ``update()`` of ryvencore's first node.
  Knob change at node 100: ``set_param`` + ``evaluate`` (every node reported; the 100
  upstream ones are cache hits) against setting the node's gain + ``update()``.
  The floor is the node functions called in a plain loop. Target (issue 11): a knob
  change ≤ 2x ryvencore's time for the same change.
* **disk cache on.** The same full run with a fresh disk cache folder against the
  memory-only full run. Target: ≤ 1.5x.
* **cache hits** of a 4K float32 Depth slot: memory, disk (verified), disk write.

Without ryvencore the ryvencore column is skipped, saying why.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


@node("bench.scale", outputs={"field": Field})
def scale(a: Field, *, gain: float = 1.0) -> Field:
    return Field(a.values * np.float32(gain))


def chain(n: int) -> PatchGraph:
    g = PatchGraph(Registry([const, scale]))
    g.add_node("bench.const", node_id="n0")
    for i in range(1, n):
        g.add_node("bench.scale", node_id=f"n{i}")
        g.connect(Link(f"n{i - 1}", "field", f"n{i}", "a"))
    return g


def ryvencore_chain(n: int) -> tuple[list[Any], str]:
    """The same chain as a ryvencore 0.5 data flow, running the same node functions;
    ([], reason) without ryvencore."""
    if importlib.util.find_spec("ryvencore") is None:
        return [], "ryvencore is not installed (pip install -e '.[bench]')"
    import ryvencore as rc

    if not rc.Session.version.startswith("0.5"):
        return [], f"ryvencore {rc.Session.version} is installed; this compares with 0.5"

    class Const(rc.Node):  # type: ignore[misc]
        title = "const"
        init_outputs = [rc.NodeOutputType()]  # noqa: RUF012
        value = 0.5

        def update_event(self, inp: int = -1) -> None:
            self.set_output_val(0, rc.Data(const(value=self.value)))

    class Scale(rc.Node):  # type: ignore[misc]
        title = "scale"
        init_inputs = [rc.NodeInputType()]  # noqa: RUF012
        init_outputs = [rc.NodeOutputType()]  # noqa: RUF012
        gain = 1.0

        def update_event(self, inp: int = -1) -> None:
            self.set_output_val(0, rc.Data(scale(self.input(0).payload, gain=self.gain)))

    session = rc.Session()
    session.register_node_types([Const, Scale])
    flow = session.create_flow("chain")
    nodes = [flow.create_node(Const)]
    for _ in range(1, n):
        nodes.append(flow.create_node(Scale))
        flow.connect_nodes(nodes[-2].outputs[0], nodes[-1].inputs[0], silent=True)
    # a push runs depth-first through the chain: ~5 Python frames per node
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * n + 1000))
    return nodes, ""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def alternate(fns: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Median ms of each timed function, run in turn ``rounds`` times (same load)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(fn())
    return {name: median_ms(t) for name, t in times.items()}


def timer(fn: Callable[[], Any], setup: Callable[[], Any] | None = None) -> Callable[[], float]:
    def timed() -> float:
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return timed


def chain_section(n: int, rounds: int) -> None:
    knob = n // 2
    graph = chain(n)
    evaluator = Evaluator(SlotCache(None))
    evaluator.evaluate(graph)
    rc_nodes, why_not = ryvencore_chain(n)
    changes = iter(range(1, 1 << 30))

    def ours_knob() -> None:  # a new value each time: a recompute, never a cache hit
        graph.set_param(f"n{knob}", "gain", 1.0 - next(changes) * 1e-7)
        evaluator.evaluate(graph)

    def rc_knob() -> None:
        rc_nodes[knob].gain = 1.0 - next(changes) * 1e-7
        rc_nodes[knob].update()

    def floor_knob() -> None:  # the node functions alone, downstream of the knob
        value = const(value=0.5)
        for _ in range(knob, n):
            value = scale(value, gain=1.0)

    def floor_full() -> None:
        value = const(value=0.5)
        for _ in range(1, n):
            value = scale(value, gain=1.0)

    fresh: list[Evaluator] = []

    def new_evaluator() -> None:  # (the last one goes: its cache is garbage now)
        fresh[:] = [Evaluator()]

    full = {
        "ours": timer(lambda: fresh[-1].evaluate(graph), new_evaluator),
        "floor": timer(floor_full),
    }
    knobs = {"ours": timer(ours_knob), "floor": timer(floor_knob)}
    if rc_nodes:
        full["ryvencore"] = timer(lambda: rc_nodes[0].update())
        knobs["ryvencore"] = timer(rc_knob)
    events: list[Any] = []

    def ours_knob_listened() -> None:
        graph.set_param(f"n{knob}", "gain", 1.0 - next(changes) * 1e-7)
        evaluator.evaluate(graph, listener=events.append)
        events.clear()

    knobs["ours, with a listener"] = timer(ours_knob_listened)
    cached = alternate({"ours": timer(lambda: evaluator.evaluate(graph))}, rounds)
    got_full = alternate(full, rounds)
    got_knob = alternate(knobs, rounds * 3)
    fresh.clear()

    print(f"chain of {n} trivial nodes (4x4 Field x gain), memory cache, median ms")
    print(f"  {'':34}{'ours':>9}{'ryvencore':>11}{'ratio':>8}{'floor':>8}")
    for label, got in (("full run", got_full), (f"knob change at node {knob}", got_knob)):
        rc_ms = got.get("ryvencore")
        ratio = f"{got['ours'] / rc_ms:7.2f}x" if rc_ms else "      -"
        rc_text = f"{rc_ms:11.3f}" if rc_ms else f"{'-':>11}"
        print(f"  {label:34}{got['ours']:9.3f}{rc_text}{ratio}{got['floor']:8.3f}")
    print(f"  {'knob change, with a listener':34}{got_knob['ours, with a listener']:9.3f}")
    print(f"  {'cached re-evaluation':34}{cached['ours']:9.3f}")
    if rc_nodes:
        verdict = "ok" if got_knob["ours"] <= 2 * got_knob["ryvencore"] else "OVER"
        print(f"  target: knob change <= 2x ryvencore: {verdict}")
    else:
        print(f"  ryvencore column skipped: {why_not}")


def disk_section(n: int, rounds: int) -> None:
    graph = chain(n)
    folders: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:

        def fresh_disk() -> None:
            folders.append(tempfile.mkdtemp(dir=tmp))

        got = alternate(
            {
                "memory": timer(lambda: Evaluator(SlotCache(None)).evaluate(graph)),
                "disk": timer(
                    lambda: Evaluator(SlotCache(Path(folders[-1]))).evaluate(graph), fresh_disk
                ),
            },
            rounds,
        )
        files = sum(len(names) for _, _, names in os.walk(folders[-1]))
    ratio = got["disk"] / got["memory"]
    verdict = "ok" if ratio <= 1.5 else "OVER"
    print(f"chain of {n}, full run (fresh evaluator), median ms")
    print(f"  memory cache only {got['memory']:9.3f}")
    print(
        f"  disk cache on     {got['disk']:9.3f}   {ratio:.2f}x the memory run "
        f"(target <= 1.5x: {verdict}); {files} files written"
    )


def hits_section(height: int, width: int, rounds: int) -> None:
    depth = Depth(np.random.default_rng(0).random((height, width), dtype=np.float32))
    with tempfile.TemporaryDirectory() as tmp:
        cache = SlotCache(Path(tmp))
        cache.put("kdepth", depth)
        assert cache.disk is not None
        disk = cache.disk
        mem = [timer(lambda: cache.get("kdepth"))() for _ in range(rounds * 5)]
        read = [timer(lambda: SlotCache(Path(tmp)).get("kdepth"))() for _ in range(rounds)]
        write = [timer(lambda: disk.put("wdepth", depth))() for _ in range(rounds)]
    print(f"cache, {width}x{height} float32 Depth slot ({depth.nbytes / 2**20:.0f} MiB)")
    print(f"  memory hit             {median_ms(mem) * 1e3:9.1f} µs")
    print(f"  disk hit (verified)    {median_ms(read):9.1f} ms")
    print(f"  disk write             {median_ms(write):9.1f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, a few seconds")
    args = parser.parse_args(argv)
    n, rounds = (40, 5) if args.smoke else (200, 15)
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    chain_section(n, rounds)
    disk_section(n, rounds)
    hits_section(*((270, 480) if args.smoke else (2160, 3840)), rounds=3 if args.smoke else 7)


if __name__ == "__main__":
    main()
