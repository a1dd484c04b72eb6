"""Opening a big patch in the app, offscreen: the canvas beside the engine's own load.

    .venv/bin/python benchmarks/canvas.py [--sizes 500 2000 8000] [--rounds 1]
    .venv/bin/python benchmarks/canvas.py --smoke   # 100 and 400 nodes: seconds (CI)

For a chain (each node feeds the next: a row of columns) and a fan (one node feeds all
the others: a column as tall as the patch, wires as long as the column) of N nodes
without positions, written to a file, it prints

* ``engine``: ``load_patch`` of the file (parse, validate, build the graph) — the same-run
  reference;
* ``open``: File ▸ Open of the same file in a ``MainWindow`` until the canvas is built
  (``files.open_path`` returns: load, auto-layout, nodes, wires, routing), and
  ``shown``: until the view is framed and painted once;
* the ratio open / engine, and open per node (flat when the canvas scales linearly);
* wires routed round nodes, and the R-tree's rectangle checks per wire
  (``canvas/spatial.py``), which grow with the log of the patch, not with the patch.

Evaluation is switched off (``controller.auto``) so the figures are the canvas's alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def big_patch(n: int, shape: str) -> dict[str, object]:
    """The shapes of tests/ui/test_canvas_scaling.py: a photo with depth, then ``n - 1``
    field nodes (benchmarks/safety.py's chain, fed)."""
    nodes = [{"id": "n0", "type": "source.sample_rgbd", "params": {}}]
    nodes += [{"id": f"n{i}", "type": "field.remap", "params": {}} for i in range(1, n)]
    if shape == "chain":
        links = [{"from": f"n{i - 1}.field", "to": f"n{i}.source"} for i in range(2, n)]
    else:
        links = [{"from": "n1.field", "to": f"n{i}.source"} for i in range(2, n)]
    links.insert(0, {"from": "n0.depth", "to": "n1.source"})
    return {"format": "gateway-studio.patch", "version": 1, "nodes": nodes, "links": links}


def _work(window) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(rectangle checks, wires routed) so far; NaN on a canvas without the index (to run
    this script on older code for a before/after)."""
    router = getattr(window.scene, "router", None)
    if router is None:
        return math.nan, math.nan
    return router.index.checks, router.routed


def measure(app, window, path: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QTimer

    from gateway_studio.engine import default_registry
    from gateway_studio.engine.patch import load_patch

    registry = default_registry()
    t0 = time.perf_counter()
    load_patch(path, registry)
    engine = time.perf_counter() - t0

    window.doc.new()
    app.processEvents()
    checks, routed = _work(window)
    t0 = time.perf_counter()
    ok = window.files.open_path(path, ask=False)
    opened = time.perf_counter() - t0
    assert ok, window.errors
    done: list[float] = []
    QTimer.singleShot(0, lambda: done.append(0.0))  # after the window's own frame-and-select
    while not done:
        app.processEvents()
    window.view.viewport().repaint()
    shown = time.perf_counter() - t0
    wires = len(window.scene.wires)
    routed_round = sum(1 for w in window.scene.wires.values() if w.path().elementCount() > 4)
    checks_after, routed_after = _work(window)
    per_wire = (checks_after - checks) / max(routed_after - routed, 1)
    return {
        "engine": engine,
        "open": opened,
        "shown": shown,
        "wires": wires,
        "round": routed_round,
        "checks": per_wire,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 8000])
    parser.add_argument("--shapes", nargs="+", default=["chain", "fan"])
    parser.add_argument("--rounds", type=int, default=1, help="median of this many opens")
    parser.add_argument("--smoke", action="store_true", help="100 and 400 nodes (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.rounds = [100, 400], 1
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="gs-canvas-"))
    os.environ["GATEWAY_STUDIO_CACHE"] = str(tmp / "cache")
    os.environ["GATEWAY_STUDIO_CONFIG"] = str(tmp / "config")

    from qtpy.QtWidgets import QApplication

    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    app = QApplication(sys.argv[:1])
    window = MainWindow(
        evaluator=Evaluator(SlotCache(None)), session=Session(tmp / "cfg"), autosave_seconds=3600
    )
    window.errors = []  # type: ignore[attr-defined]
    window.show_error = lambda title, text: window.errors.append((title, text))  # type: ignore[method-assign,attr-defined]
    window.ask_save_changes = lambda: "discard"  # type: ignore[method-assign]
    window.controller.auto = False  # the canvas alone: no evaluation in the background
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    print(f"# load average {os.getloadavg()[0]:.1f}; median of {args.rounds} open(s) each")
    print(
        f"{'patch':<12} {'engine s':>9} {'open s':>8} {'shown s':>8} {'open/engine':>12} "
        f"{'ms/node':>8} {'wires':>6} {'routed round':>13} {'checks/wire':>12}"
    )
    for shape in args.shapes:
        for n in args.sizes:
            path = tmp / f"{shape}{n}.json"
            path.write_text(json.dumps(big_patch(n, shape)), encoding="utf-8")
            runs = [measure(app, window, path) for _ in range(args.rounds)]
            m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"{shape + ' ' + str(n):<12} {m['engine']:>9.2f} {m['open']:>8.2f} "
                f"{m['shown']:>8.2f} {m['open'] / m['engine']:>11.0f}x "
                f"{m['open'] / n * 1000:>8.2f} {m['wires']:>6.0f} {m['round']:>13.0f} "
                f"{m['checks']:>12.0f}"
            )
    window.doc.undo_stack.setClean()
    window.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
