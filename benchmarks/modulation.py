"""Benchmark: milliseconds per evaluation of every field and modulation node.

Run from the repository root:  .venv/bin/python benchmarks/modulation.py [--runs N]
(``--smoke``: one run per node at 192x108 and 96x54, seconds; CI runs it.)

For each node of the ``fields`` and ``modulation`` families in the registry it builds
synthetic inputs of each input type (a textured image with highlights, a depth map with a
near disc on a receding ramp, that depth as a Field, a Mask from it; optional inputs left
unconnected), runs the node's compute function with default params several times and
prints the median at 1920x1080 and at the preview proxy size (long side 1024: 1024x576).

Beside it, a reference measured in the same run, timed alternately with each node: one
``cv2.GaussianBlur`` 21x21 pass over the same 1080p float32 RGB image. Machines (and the
load other processes put on them) differ; the ratio node / reference is what carries over.
Targets (issue 4): a modulation node ≤ 25 ms at the proxy size and ≤ 100 ms at 1080p;
nodes over are marked.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from gateway_studio.engine import Depth, Field, Image, Mask, NodeSpec, Slot, default_registry

SIZES = {"1080p": (1080, 1920), "proxy": (576, 1024)}
TARGET_MS = {"proxy": 25.0, "1080p": 100.0}
FAMILIES = ("fields", "modulation")


def synthetic(height: int, width: int) -> dict[str, Slot]:
    """A photo-like image and its depth: sky-to-floor gradient, texture, bright spots, a
    near disc (the subject) in front of a receding ramp."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    v, u = ys / height, xs / width
    depth = np.clip(0.05 + 0.6 * np.clip((v - 0.45) / 0.55, 0, 1), 0, 1)
    disc = (u - 0.3) ** 2 * (width / height) ** 2 + (v - 0.55) ** 2 < 0.3**2
    depth = np.where(disc, 0.9 - 0.1 * v, depth).astype(np.float32)
    base = np.stack([0.3 + 0.4 * u, 0.4 + 0.2 * v, 0.7 - 0.4 * v], axis=-1)
    texture = 0.08 * (rng.random((height, width, 1), dtype=np.float32) - 0.5)
    stripes = 0.1 * (np.sin(u * 60.0) > 0)[..., None]
    pixels = base + texture + stripes
    pixels[disc] = [0.8, 0.25, 0.2]
    for cy, cx in ((0.2, 0.7), (0.3, 0.85), (0.15, 0.55)):  # highlights for the halo
        pixels[(u - cx) ** 2 + (v - cy) ** 2 < 0.02**2] = 0.98
    image = Image(np.clip(pixels, 0, 1).astype(np.float32))
    return {
        "Image": image,
        "Depth": Depth(depth),
        "Field": Field(depth),
        "Mask": Mask((depth > 0.5).astype(np.float32)),
    }


def arguments(spec: NodeSpec, data: dict[str, Slot]) -> list[Slot | None]:
    args: list[Slot | None] = []
    for inp in spec.inputs:
        if inp.optional:
            args.append(None)
            continue
        args.append(inp.coerce(data[inp.types[0].type_name]))
    return args


def median_ms(
    func: Callable[[], Any], runs: int, reference: Callable[[], Any]
) -> tuple[float, float]:
    """Median ms of ``func`` and of ``reference``, timed alternately: on a machine whose
    load changes from second to second both medians see the same load, so their ratio
    stays meaningful."""
    func()  # warm-up: imports, kernel caches, first-touch allocations
    reference()
    times: list[float] = []
    ref_times: list[float] = []
    for _ in range(runs):
        for target, out in ((func, times), (reference, ref_times)):
            start = time.perf_counter()
            target()
            out.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), statistics.median(ref_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="timed runs per node and size")
    parser.add_argument("--only", default="", help="only node ids containing this text")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run (CI)")
    args = parser.parse_args()
    if args.smoke:
        SIZES.update({"1080p": (108, 192), "proxy": (54, 96)})
        args.runs = 1
    from gateway_studio.malloc import keep_freed_buffers

    # The app and `gateway-studio render` tune the allocator at start: measure the same.
    print(f"allocator tuned like the app (gateway_studio/malloc.py): {keep_freed_buffers()}")

    registry = default_registry()
    specs = [s for s in registry if s.family in FAMILIES and args.only in s.type_id]
    data = {name: synthetic(*size) for name, size in SIZES.items()}
    ref_image = data["1080p"]["Image"].pixels

    def gaussian_reference() -> None:
        cv2.GaussianBlur(ref_image, (21, 21), 0)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"cv2 {cv2.__version__} ({cv2.getNumThreads()} threads), load average {load:.2f}"
    )
    print(
        "# ref = cv2.GaussianBlur 21x21 of the 1080p float32 RGB image, timed alternately "
        "with each node (same load)"
    )
    print("# targets: modulation nodes <= 25 ms proxy (1024x576), <= 100 ms 1080p\n")
    print("| node | proxy 1024x576 ms | 1080p ms | ref ms | proxy / ref | 1080p / ref | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    over_any = False
    refs: list[float] = []
    for spec in specs:
        row: dict[str, float] = {}
        ref_ms: list[float] = []
        for name in ("proxy", "1080p"):
            inputs = arguments(spec, data[name])
            params = spec.default_params()
            row[name], ref = median_ms(
                lambda f=spec.func, i=inputs, p=params: f(*i, **p), args.runs, gaussian_reference
            )
            ref_ms.append(ref)
        reference = statistics.median(ref_ms)
        refs.append(reference)
        over = [n for n in row if row[n] > TARGET_MS[n]]
        flag = ("OVER target (" + ", ".join(over) + ")") if over else "ok"
        if spec.family != "modulation":
            flag = flag.replace("OVER target", "over the modulation target")
        else:
            over_any = over_any or bool(over)
        print(
            f"| `{spec.type_id}` | {row['proxy']:.1f} | {row['1080p']:.1f} | {reference:.1f} | "
            f"{row['proxy'] / reference:.2f}x | {row['1080p'] / reference:.1f}x | {flag} |"
        )
    reference = statistics.median(refs)
    verdict = "some modulation node is over target" if over_any else "all within target"
    print(f"\n# {verdict}; reference {reference:.2f} ms")


if __name__ == "__main__":
    main()
