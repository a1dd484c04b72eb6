"""Benchmark: batch throughput in one process and on a Dask LocalCluster, side by side.

Run from the repository root:  .venv/bin/python benchmarks/batch.py [--smoke] [--rounds N]

The batch: 40 photo-like 1920x1080 PNGs, each with its own 16-bit depth map paired by
``{stem}_depth.png`` (``--smoke``: 6 at 320x180), rendered through
``resources/patches/fog.json`` (source.image + depth.from_file → modulate.atmosphere →
output.export: decode, fog, encode with provenance). Every configuration starts from its
own empty cache folder(s), so nothing is a cache hit. In the same run, alternating:

* ``serial``: ``batch.run_jobs`` in this process (``--workers 1``, the reference);
* ``dask 1``: a LocalCluster of 1 worker (the cost of going through Dask);
* ``dask 2 shared``: 2 worker processes, one cache folder for both (``--cache-dir``);
* ``dask 2 separate``: 2 worker processes, a cache folder each.

Every configuration and round has cache folders of its own, so each worker starts it with
a fresh evaluator (no memory-cache hits from an earlier round). Images per second count
from submitting the first job to the last report; cluster start (worker processes
importing the engine, once per batch) is printed apart, with a warm-up batch (memory
cache only) run on each cluster before it is timed. Target (issue 14): 2 workers ≥ 1.6× the
serial throughput on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway_studio.engine import Evaluator, SlotCache, load_patch  # noqa: E402
from gateway_studio.engine.batch import BatchJob, plan_batch, run_jobs  # noqa: E402
from gateway_studio.engine.farm import FarmSettings, dask_client, run_on_client  # noqa: E402

FOG = ROOT / "resources" / "patches" / "fog.json"


def make_batch(folder: Path, n: int, height: int, width: int) -> list[Path]:
    """``n`` photo-like pictures (gradient, texture, a disc moving per image) and a depth
    map each (a receding floor with the disc nearer)."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for i in range(n):
        rng = np.random.default_rng(i)
        cx = width * (0.2 + 0.6 * i / max(n - 1, 1))
        disc = np.hypot(yy - height * 0.55, xx - cx) < height * 0.2
        rgb = np.stack([0.3 + 0.4 * yy / height, 0.5 - 0.2 * xx / width, 0.4 + 0.2 * disc], 2)
        rgb += rng.normal(0, 0.04, rgb.shape)
        photo = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        inverse = 0.2 + 0.6 * yy / height + 0.3 * disc
        depth = (np.clip(inverse, 0, 1) * 65535).astype(np.uint16)
        path = folder / f"img{i:03d}.png"
        Image.fromarray(photo).save(path, compress_level=1)
        Image.fromarray(depth).save(folder / f"img{i:03d}_depth.png", compress_level=1)
        out.append(path)
    return out


def plan(images: list[Path], out: Path) -> list[BatchJob]:
    partners = {"depth": str(images[0].parent / "{stem}_depth.png")}
    return plan_batch(load_patch(FOG), images, out, source="photo", partners=partners).jobs


def timed(run: Any) -> float:
    start = time.perf_counter()
    reports = run()
    seconds = time.perf_counter() - start
    failed = [r for r in reports if not r.ok]
    if failed:
        raise SystemExit(f"benchmark batch failed: {failed[0].name}: {failed[0].errors}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="6 images at 320x180 (CI)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    args = parser.parse_args()
    from gateway_studio.malloc import keep_freed_buffers

    # this process as `gateway-studio render` runs (the workers tune themselves the same way)
    print(f"# allocator tuned like the CLI (gateway_studio/malloc.py): {keep_freed_buffers()}")
    n, (h, w) = (6, (180, 320)) if args.smoke else (40, (1080, 1920))
    rounds = 1 if args.smoke else max(args.rounds, 1)
    tmp = Path(tempfile.mkdtemp(prefix="gws-bench-batch-"))
    images = make_batch(tmp / "in", n, h, w)
    warm = make_batch(tmp / "warm", 2, h, w)
    times: dict[str, list[float]] = {}
    counter = iter(range(1_000_000))

    def fresh(name: str) -> Path:
        return tmp / f"{name}-{next(counter)}"

    t = time.perf_counter()
    timed(lambda: run_jobs(plan(warm, fresh("out")), Evaluator(SlotCache(fresh("cache")))))
    print(f"# serial warm-up (imports, first render): {time.perf_counter() - t:.2f} s")
    with ExitStack() as stack:
        clients: dict[int, Any] = {}
        for workers in (1, 2):
            t = time.perf_counter()
            client = clients[workers] = stack.enter_context(dask_client(workers))
            warmed = FarmSettings(memory_only=True)  # never the user's own cache folder
            timed(lambda c=client, s=warmed: run_on_client(c, plan(warm, fresh("out")), s))
            print(
                f"# LocalCluster of {workers} started and warmed: {time.perf_counter() - t:.2f} s"
            )
        for _ in range(rounds):
            for name, run in _configs(clients, images, fresh):
                times.setdefault(name, []).append(timed(run))
    _table(times, n, h, w)


def _configs(clients: dict[int, Any], images: list[Path], fresh: Any) -> list[tuple[str, Any]]:
    one, two = clients[1], clients[2]

    def separate() -> Any:
        settings = FarmSettings(str(fresh("caches")), per_worker=True)
        return run_on_client(two, plan(images, fresh("out")), settings)

    return [
        ("serial", lambda: run_jobs(plan(images, fresh("out")), Evaluator(SlotCache(fresh("c"))))),
        ("dask 1", lambda: run_on_client(one, plan(images, fresh("out")), _shared(fresh))),
        ("dask 2 shared", lambda: run_on_client(two, plan(images, fresh("out")), _shared(fresh))),
        ("dask 2 separate", separate),
    ]


def _shared(fresh: Any) -> FarmSettings:
    return FarmSettings(str(fresh("cache")))


def _table(times: dict[str, list[float]], n: int, h: int, w: int) -> None:
    load = os.getloadavg()[0]
    print(
        f"# {n} images {w}x{h} through fog.json (photo + its own depth map), cpus {os.cpu_count()}"
    )
    print(
        f"# load average {load:.2f}; seconds per round: "
        + ", ".join(f"{k} {'/'.join(f'{s:.2f}' for s in v)}" for k, v in times.items())
    )
    ref = n / statistics.median(times["serial"])
    shared = n / statistics.median(times["dask 2 shared"])
    print("\n| run | images/s | vs serial |\n|---|---:|---:|")
    for name, seconds in times.items():
        rate = n / statistics.median(seconds)
        print(f"| {name} | {rate:.2f} | {rate / ref:.2f}x |")
    sep = n / statistics.median(times["dask 2 separate"])
    print(f"\n2 workers vs serial: {shared / ref:.2f}x (target >= 1.6x)")
    print(f"shared cache vs separate caches (2 workers): {shared / sep:.2f}x the throughput")


if __name__ == "__main__":
    main()
