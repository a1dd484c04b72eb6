"""Benchmark: does each node's cost per megapixel stay flat from 2 MP to 33 MP, and how
much memory does it take beyond its inputs?

Run from the repository root:  .venv/bin/python benchmarks/scaling.py [--smoke] [--runs N]

For every node of the ``modulation``, ``geometry`` and ``fields`` families: the inputs of
``benchmarks/modulation.py`` (a textured photo with highlights, a depth map with a near
disc on a receding ramp, that depth as a Field and a Mask; relight gets the normals of
that depth; optional inputs unconnected), default params. The photo is 8-bit, as
``source.image`` decodes it (``--float``: a float32 image, as a modulation node's output
is), so a node pays for whatever float conversion it does.

* **Per-MP time**: the node at 1920x1080 (2.1 MP) and at 7680x4320 (33.2 MP), called
  alternately in this process, ``--runs`` pairs; ``ratio`` is the median over the pairs of
  (ms/MP at 33 MP) / (ms/MP at 2 MP). Target (issue 11): ≤ 1.25. ``cpu ratio`` is the
  same with the CPU time of the process's threads instead of the wall clock: on a machine
  that other jobs load, it moves less (a descheduled thread waits on the wall clock only).
  ``best ratio`` is (fastest ms/MP at 33 MP) / (fastest ms/MP at 2 MP) over the pairs:
  load from other jobs only ever adds time, so each size's fastest call is the closest to
  its own cost; read it beside the median when the host is noisy.
* **Proxy**: median ms at the 1024x576 preview proxy. Target: ≤ 25 ms.
* **Reference**: one ``cv2.GaussianBlur`` 21x21 of the 1080p float32 RGB image (the one
  ``benchmarks/modulation.py`` uses), timed alternately with the node in the same loops;
  the ratios to it carry over between machines and loads.
* **Page faults** per call (minor faults, ``getrusage``) at each size: the price of
  fresh pages (``--glibc-defaults``: every block over 32 MiB is a fresh ``mmap``; tuned
  like the app, ``gateway_studio/malloc.py``, the heap reuses them).
* **Peak extra memory** of one call at 33 MP, in output frames (a float32 frame with the
  output's channels: 3 for images, normals and point clouds, 1 for fields): ``py`` is
  tracemalloc's peak (every numpy array, and every cv2 result, which cv2 allocates as a
  numpy array; cv2's internal scratch is not seen), ``rss`` the rise of the process's
  resident high-water mark (``/proc/self/clear_refs``), which sees everything but also
  reuses memory the allocator kept from earlier calls.

``--smoke`` runs the same code on 320x180 / 1280x720 / 256x144 with one pair (seconds; CI).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gateway_studio.engine import Image, NodeSpec, Normals, Slot, default_registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from modulation import arguments, synthetic  # the sibling benchmark's inputs

FAMILIES = ("modulation", "geometry", "fields")
FULL = {"small": (1080, 1920), "large": (4320, 7680), "proxy": (576, 1024)}
SMOKE = {"small": (180, 320), "large": (720, 1280), "proxy": (144, 256)}
TARGET_RATIO = 1.25
TARGET_PROXY_MS = 25.0


def inputs_at(height: int, width: int, photo_8bit: bool) -> dict[str, Slot]:
    data = synthetic(height, width)
    image = data["Image"]
    assert isinstance(image, Image)
    if photo_8bit:
        data["Image"] = Image((image.pixels * 255.0 + 0.5).astype(np.uint8))
    from nodes.geometry import normals

    vectors = normals(data["Depth"])
    assert isinstance(vectors, Normals)
    data["Normals"] = vectors
    return data


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(func: Callable[[], Any]) -> tuple[float, float, int]:
    """(wall ms, CPU ms of all the process's threads, minor page faults) of one call; its
    result is dropped before returning."""
    faults = minor_faults()
    cpu = time.process_time()
    start = time.perf_counter()
    func()
    ms = (time.perf_counter() - start) * 1000.0
    return ms, (time.process_time() - cpu) * 1000.0, minor_faults() - faults


def _status(key: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` line of /proc/self/status, in bytes (0 off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_extra(func: Callable[[], Any]) -> tuple[int, int, Any]:
    """(tracemalloc peak bytes, resident high-water rise in bytes, result) of one call."""
    gc.collect()
    with contextlib.suppress(OSError):  # "5" resets the resident high-water mark (Linux ≥ 4)
        Path("/proc/self/clear_refs").write_text("5")
    rss0 = _status("VmRSS")
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = func()
    py_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return py_peak, max(_status("VmHWM") - rss0, 0), result


def frame_bytes(result: Any, size: tuple[int, int]) -> int:
    """One float32 frame with the output's channels (1 for a Field, else 3)."""
    channels = 1 if type(result).__name__ in ("Field", "Mask", "Depth") else 3
    return size[0] * size[1] * channels * 4


@dataclass
class Row:
    per_mp: dict[str, list[float]] = field(default_factory=lambda: {"small": [], "large": []})
    faults: dict[str, list[int]] = field(default_factory=lambda: {"small": [], "large": []})
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)
    proxy: list[float] = field(default_factory=list)
    ref: list[float] = field(default_factory=list)


def bind(spec: NodeSpec, inputs: list[Slot | None], params: dict[str, Any]) -> Callable[[], Any]:
    return lambda: spec.func(*inputs, **params)


def measure(
    spec: NodeSpec,
    data: dict[str, dict[str, Slot]],
    sizes: dict[str, tuple[int, int]],
    runs: int,
    reference: Callable[[], Any],
) -> Row:
    params = spec.default_params()
    calls = {name: bind(spec, arguments(spec, data[name]), params) for name in sizes}
    for call in calls.values():  # warm-up: imports, kernel caches, first-touch pages
        call()
    reference()
    row = Row()
    mp = {name: sizes[name][0] * sizes[name][1] / 1e6 for name in sizes}
    for _ in range(runs):
        pair, cpu = {}, {}
        for name in ("small", "large"):
            ms, cpu_ms, faults = timed(calls[name])
            pair[name], cpu[name] = ms / mp[name], cpu_ms / mp[name]
            row.per_mp[name].append(pair[name])
            row.faults[name].append(faults)
        row.ratios.append(pair["large"] / pair["small"])
        row.cpu_ratios.append(cpu["large"] / max(cpu["small"], 1e-9))
        row.ref.append(timed(reference)[0])
        for _ in range(3):  # the proxy is quick: three calls per pair, each beside the ref
            row.proxy.append(timed(calls["proxy"])[0])
            row.ref.append(timed(reference)[0])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes, one pair (CI)")
    parser.add_argument("--runs", type=int, default=5, help="2 MP / 33 MP pairs per node")
    parser.add_argument("--only", default="", help="only node ids containing this text")
    parser.add_argument("--float", action="store_true", help="a float32 photo, not 8-bit")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory pass")
    parser.add_argument(
        "--glibc-defaults",
        action="store_true",
        help="leave glibc's allocator as it is (what gateway_studio.Patch scripts get)",
    )
    args = parser.parse_args()
    from gateway_studio.malloc import keep_freed_buffers

    # The app and `gateway-studio render` tune the allocator at start: measure the same.
    tuned = False if args.glibc_defaults else keep_freed_buffers()
    print(f"allocator tuned like the app (gateway_studio/malloc.py): {tuned}")
    sizes = SMOKE if args.smoke else FULL
    runs = 1 if args.smoke else max(args.runs, 1)
    specs = [s for s in default_registry() if s.family in FAMILIES and args.only in s.type_id]
    data = {name: inputs_at(*size, not args.float) for name, size in sizes.items()}
    ref_image = synthetic(1080, 1920)["Image"]
    assert isinstance(ref_image, Image)
    ref_pixels = ref_image.pixels

    def reference() -> None:
        cv2.GaussianBlur(ref_pixels, (21, 21), 0)

    (sh, sw), (lh, lw), (ph, pw) = sizes["small"], sizes["large"], sizes["proxy"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"cv2 {cv2.__version__} ({cv2.getNumThreads()} threads), load average {load:.2f}; "
        f"{'float32' if args.float else '8-bit'} photo; {runs} pair(s) per node"
    )
    print(
        f"# small {sw}x{sh} ({sw * sh / 1e6:.1f} MP), large {lw}x{lh} ({lw * lh / 1e6:.1f} MP), "
        f"proxy {pw}x{ph}; ref = cv2.GaussianBlur 21x21 of a 1080p float32 RGB image, timed "
        "alternately with each node"
    )
    print(f"# targets: ratio <= {TARGET_RATIO}, proxy <= {TARGET_PROXY_MS:.0f} ms\n")
    print(
        "| node | ms/MP small | ms/MP large | ratio | cpu ratio | best ratio | proxy ms | ref ms "
        "| proxy / ref | faults/call small | large | peak extra py | rss | |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    refs: list[float] = []
    worst = 0.0
    for spec in specs:
        row = measure(spec, data, sizes, runs, reference)
        ratio = statistics.median(row.ratios)
        best = min(row.per_mp["large"]) / min(row.per_mp["small"])
        proxy = statistics.median(row.proxy)
        ref = statistics.median(row.ref)
        refs.append(ref)
        worst = max(worst, ratio)
        mem = "| - | -"
        if not args.no_memory:
            call = bind(spec, arguments(spec, data["large"]), spec.default_params())
            py, rss, result = peak_extra(call)
            frame = frame_bytes(result, sizes["large"])
            del result
            mem = f"| {py / frame:.2f} | {rss / frame:.2f}"
        flags = []
        if ratio > TARGET_RATIO:
            flags.append(f"ratio > {TARGET_RATIO}")
        if proxy > TARGET_PROXY_MS:
            flags.append(f"proxy > {TARGET_PROXY_MS:.0f} ms")
        print(
            f"| `{spec.type_id}` | {statistics.median(row.per_mp['small']):.2f} "
            f"| {statistics.median(row.per_mp['large']):.2f} | {ratio:.2f} "
            f"| {statistics.median(row.cpu_ratios):.2f} | {best:.2f} | {proxy:.1f} "
            f"| {ref:.1f} | {proxy / ref:.2f}x | {statistics.median(row.faults['small']):.0f} "
            f"| {statistics.median(row.faults['large']):.0f} {mem} "
            f"| {'OVER: ' + ', '.join(flags) if flags else 'ok'} |",
            flush=True,
        )
    print(
        f"\n# worst ratio {worst:.2f} (target <= {TARGET_RATIO}); "
        f"reference {statistics.median(refs) if refs else float('nan'):.2f} ms; "
        "peak extra in output frames at the large size"
    )


if __name__ == "__main__":
    main()
