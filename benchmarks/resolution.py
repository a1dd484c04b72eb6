"""Benchmark: a big picture end to end, as a separate process — wall time, peak memory,
what it leaves in the cache, and a warm re-render.

Run from the repository root:  .venv/bin/python benchmarks/resolution.py [--smoke]

The patch is issue 11's: ``source.image → depth.from_file → modulate.isolate →
output.export`` on a 7680x4320 PNG with a metric ``.npy`` depth map (``--smoke``: 960x540).
Each render is its own ``gateway-studio render`` process, so peak RSS is the process's
own (``wait4``'s ru_maxrss). Beside it, in the same run, the reference: a process that
only decodes the same PNG and loads the depth (what any tool must pay), so the ratios
carry over between machines. Targets (issue 11): peak ≤ 1.5 GB, cache ≤ 150 MB after the
render, a warm re-render of the unchanged patch < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "gateway_studio.cli"]


def make_inputs(folder: Path, height: int, width: int) -> None:
    """A photo-like 8-bit PNG (gradients, texture, a disc) and its metric depth."""
    import cv2

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(yy - height * 0.55, xx - width * 0.45) / height
    disc = r < 0.25
    base = np.stack([0.3 + 0.4 * yy / height, 0.5 - 0.2 * xx / width, 0.6 - 0.3 * r], axis=2)
    noise = rng.normal(0, 0.03, (height // 4, width // 4, 3)).astype(np.float32)
    base += cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    base[disc] = base[disc] * 0.5 + np.float32([0.45, 0.2, 0.1])
    rgb8 = np.clip(base * 255, 0, 255).astype(np.uint8)
    cv2.imwrite(str(folder / "photo.png"), cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR))
    metres = (2.0 + 8.0 * (1.0 - yy / height)).astype(np.float32)
    metres[disc] = 1.5
    np.save(folder / "depth.npy", metres)
    patch = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {"id": "photo", "type": "source.image", "params": {"path": "photo.png"}},
            {
                "id": "depth",
                "type": "depth.from_file",
                "params": {"path": "depth.npy", "convention": "metric"},
            },
            {"id": "isolate", "type": "modulate.isolate", "params": {"focus": 1.0}},
            {"id": "export", "type": "output.export", "params": {"path": "out.png"}},
        ],
        "links": [
            {"from": "photo.image", "to": "isolate.image"},
            {"from": "depth.depth", "to": "isolate.depth"},
            {"from": "isolate.image", "to": "export.source"},
        ],
    }
    (folder / "patch.json").write_text(json.dumps(patch))


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if proc.stderr is not None:
        err = proc.stderr.read().decode()
        if err.strip():
            print("   stderr:", err.strip()[:400])
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status)


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


REFERENCE = """
import sys, cv2, numpy as np
img = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
depth = np.load(sys.argv[2])
print(img.shape, depth.shape)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="960x540, in seconds (CI)")
    args = parser.parse_args()
    height, width = (540, 960) if args.smoke else (4320, 7680)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # in a child: a fork inherits the parent's peak RSS (Linux), so this process
        # stays small and each render's ru_maxrss is its own
        maker = f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); " + (
            f"import resolution; resolution.make_inputs(__import__('pathlib').Path({tmp!r}), "
            f"{height}, {width})"
        )
        subprocess.run([sys.executable, "-c", maker], check=True)
        cache = folder / "cache"
        env = dict(os.environ, GATEWAY_STUDIO_CACHE=str(cache), PYTHONPATH=str(ROOT))
        # Python's default bytecode caching, as on an artist's machine: the cold render
        # writes what the warm one reads. (A sandbox with PYTHONDONTWRITEBYTECODE=1 left
        # edited modules uncompiled: every run compiled ~60 of them, +0.15 s here.)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        png_mb = (folder / "photo.png").stat().st_size / 2**20
        print(f"{width}x{height} ({width * height / 1e6:.1f} MP), PNG {png_mb:.1f} MB")
        ref = run(
            [sys.executable, "-c", REFERENCE, str(folder / "photo.png"), str(folder / "depth.npy")],
            env,
        )
        cold = run([*CLI, "render", str(folder / "patch.json")], env)
        cache_mb = folder_mb(cache)
        warm = run([*CLI, "render", str(folder / "patch.json")], env)
        print(f"{'':28}{'wall s':>9}{'peak MB':>10}{'exit':>6}")
        for name, (wall, rss, code) in (
            ("reference: decode inputs", ref),
            ("render, cold cache", cold),
            ("render again, warm cache", warm),
        ):
            print(f"{name:28}{wall:9.2f}{rss:10.0f}{code:6d}")
        print(f"cache after the cold render: {cache_mb:.0f} MB")
        print(
            f"ratios (same run): cold peak / reference peak {cold[1] / ref[1]:.2f}×, "
            f"cold wall / reference wall {cold[0] / ref[0]:.2f}×, "
            f"warm wall / reference wall {warm[0] / ref[0]:.2f}×"
        )
        print("targets: peak ≤ 1536 MB, cache ≤ 150 MB, warm < 0.5 s (8K, issue 11)")


if __name__ == "__main__":
    main()
