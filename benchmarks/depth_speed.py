"""Seconds per 1920x1080 photo: our depth.estimate node vs transformers' depth pipeline.

Both run the same model folder: random weights of the real Depth-Anything-V2 configs
(same FLOPs as the real weights, which these machines do not have), loaded once before
timing. Timing runs both in one process, alternating call by call, so both see the same
machine load (the test machines are shared); peak RSS is measured in a separate process
per method, so each figure is that method's own.

    .venv/bin/python benchmarks/depth_speed.py [--all] [--runs 3] [--threads 2]

Ours = the whole node (preprocess + forward + bicubic upsample to 1920x1080 + Depth
slot); pipeline = ``pipe(pil_image)`` (its preprocess + forward + upsample of
predicted_depth + its 8-bit preview image). Target: ours <= 0.8x the pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    # name: (hidden, layers, heads, out_indices, neck sizes, fusion)
    "small": (384, 12, 6, [3, 6, 9, 12], [48, 96, 192, 384], 64),
    "base": (768, 12, 12, [3, 6, 9, 12], [96, 192, 384, 768], 128),
    "large": (1024, 24, 16, [5, 12, 18, 24], [256, 512, 1024, 1024], 256),
}


def build(name: str, folder: Path) -> Path:
    """Save a random-weight Depth-Anything-V2 of the real config (once per folder)."""
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from tests.nodes.tiny_models import DEPTH_ANYTHING_PROCESSOR

    hidden, layers, heads, out_indices, neck, fusion = CONFIGS[name]
    backbone = Dinov2Config(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        image_size=518,
        patch_size=14,
        out_indices=out_indices,
        reshape_hidden_states=False,
        layerscale_value=1.0,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=hidden,
        neck_hidden_sizes=neck,
        fusion_hidden_size=fusion,
        depth_estimation_type="relative",
    )
    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(config)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(DEPTH_ANYTHING_PROCESSOR))
    return folder


def photo_1080p():  # type: ignore[no-untyped-def]
    from PIL import Image as PILImage

    with PILImage.open(ROOT / "resources" / "images" / "coffee.png") as im:
        return im.convert("RGB").resize((1920, 1080), PILImage.Resampling.BICUBIC)


def _runner(method: str, folder: Path, precision: str):  # type: ignore[no-untyped-def]
    """(whole call, model forward alone) callables for one method, model loaded."""
    import numpy as np
    import torch

    pil = photo_1080p()
    if method == "ours":
        from gateway_studio.engine import Context, Image, models
        from nodes.depth import Preprocessing, estimate, forward, preprocess, srgb_pixels

        image = Image(np.asarray(pil, dtype=np.float32) / 255.0)
        loaded = models.load_model(str(folder), precision=precision)  # loading is not timed
        prep = Preprocessing.from_config(loaded.preprocessor, "depth_anything")
        prepared = preprocess(srgb_pixels(image), prep)

        def once() -> None:
            estimate(image, model=str(folder), precision=precision, ctx=Context())

        def model_only() -> None:
            forward(loaded, prepared)

        return once, model_only

    from transformers import pipeline

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    pipe = pipeline("depth-estimation", model=str(folder), device="cpu", dtype=dtype)
    original = pipe.postprocess

    def postprocess(outputs):  # type: ignore[no-untyped-def]
        # The pipeline's postprocess calls .numpy() on predicted_depth, which fails on
        # bf16 tensors: cast first (a no-op for fp32).
        outputs["predicted_depth"] = outputs["predicted_depth"].float()
        return original(outputs)

    pipe.postprocess = postprocess
    inputs = pipe.preprocess(pil)

    def call() -> None:
        pipe(pil)

    def pipe_model_only() -> None:
        with torch.no_grad():
            pipe.model(pixel_values=inputs["pixel_values"])

    return call, pipe_model_only


def forward_accuracy(folder: Path, precision: str) -> dict[str, float]:
    """Our forward (optimised, at ``precision``) vs the plain fp32 transformers model on the
    same input tensor: Pearson r and max abs difference / max |reference|."""
    import numpy as np
    import torch
    from transformers import DepthAnythingForDepthEstimation

    from gateway_studio.engine import Image, models
    from nodes.depth import Preprocessing, forward, preprocess, srgb_pixels

    image = Image(np.asarray(photo_1080p(), dtype=np.float32) / 255.0)
    loaded = models.load_model(str(folder), precision=precision)  # the timed model (cached)
    prepared = preprocess(srgb_pixels(image), Preprocessing.from_config(loaded.preprocessor))
    ours = forward(loaded, prepared).astype(np.float64)
    plain = DepthAnythingForDepthEstimation.from_pretrained(str(folder)).eval()
    with torch.inference_mode():
        ref = plain(pixel_values=prepared.pixel_values).predicted_depth[0].double().numpy()
    return {
        "fwd_r": float(np.corrcoef(ours.ravel(), ref.ravel())[0, 1]),
        "fwd_maxabs": float(np.abs(ours - ref).max() / np.abs(ref).max()),
    }


def child_time(folder: Path, precision: str, runs: int, threads: int) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    os.environ["HF_HUB_OFFLINE"] = "1"
    fns = {m: _runner(m, folder, precision) for m in ("ours", "pipeline")}
    times: dict[str, list[float]] = {k: [] for k in ("ours", "ours_model", "pipe", "pipe_model")}
    for m in fns:  # warm-up
        fns[m][0]()
    for _ in range(runs):  # alternate, so both see the same load
        for m, key in (("ours", "ours"), ("pipeline", "pipe")):
            once, model_only = fns[m]
            t0 = time.perf_counter()
            once()
            times[key].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            model_only()
            times[key + "_model"].append(time.perf_counter() - t0)
    # Medians: on a shared machine a min flatters whichever side got a quiet moment. The
    # ratio is taken per alternating pair (same moment, same load), then its median/spread.
    result: dict[str, float] = {k: float(np.median(v)) for k, v in times.items()}
    ratios = [o / p for o, p in zip(times["ours"], times["pipe"], strict=True)]
    result["ratio"] = float(np.median(ratios))
    result["ratio_lo"], result["ratio_hi"] = min(ratios), max(ratios)
    result.update(forward_accuracy(folder, precision))
    if precision == "bf16":  # how far our bf16 map is from our fp32 map
        from gateway_studio.engine import Context, Image
        from nodes.depth import estimate

        image = Image(np.asarray(photo_1080p(), dtype=np.float32) / 255.0)
        low = estimate(image, model=str(folder), precision="bf16", ctx=Context()).values
        ref = estimate(image, model=str(folder), precision="fp32", ctx=Context()).values
        result["r_fp32"] = float(np.corrcoef(low.ravel(), ref.ravel())[0, 1])
    print(json.dumps(result))


def child_rss(method: str, folder: Path, precision: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["HF_HUB_OFFLINE"] = "1"
    once, _ = _runner(method, folder, precision)
    once()
    once()
    print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run_child(*argv: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="also Base and Large")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "gs-depth-speed"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "time":
            child_time(Path(rest[0]), rest[1], args.runs, args.threads)
        else:
            child_rss(rest[0], Path(rest[1]), rest[2], args.threads)
        return 0

    names = ["small", "base", "large"] if args.all else ["small"]
    print(f"1920x1080 photo, {args.threads} threads, medians of {args.runs} alternating runs")
    print("ratio = median of per-pair ours/pipeline ratios, [min-max] over the pairs")
    print("forward = the model alone on the prepared tensor; pre+post = the rest of a call\n")
    header = (
        f"{'model':<7}{'precision':<10}{'ours s':>8}{'pipeline s':>11}{'ratio [min-max]':>19}"
        f"{'forward s (ours/pipe)':>24}{'pre+post s (ours/pipe)':>25}"
        f"{'ours RSS':>10}{'pipe RSS':>10}"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    cross = []  # ours in bf16 vs the pipeline in fp32
    accuracy: list[str] = []
    pipe_fp32 = 0.0
    common = ["--threads", str(args.threads), "--runs", str(args.runs)]
    for name in names:
        folder = build(name, args.cache / f"depth-anything-v2-{name}-random")
        for precision in ("fp32", "bf16"):
            t = _run_child("--child", "time", str(folder), precision, *common)
            rss = {
                m: _run_child("--child", "rss", m, str(folder), precision, *common)["rss_mb"]
                for m in ("ours", "pipeline")
            }
            ratio = t["ratio"]
            accuracy.append(
                f"{name} {precision}: our forward vs the plain fp32 model, same input: "
                f"Pearson r = {t['fwd_r']:.6f}, max |diff| = {t['fwd_maxabs']:.1e} of max"
            )
            worst = max(worst, ratio)
            if precision == "fp32":
                pipe_fp32 = t["pipe"]
            else:
                cross.append((name, t["ours"] / pipe_fp32, t["r_fp32"]))
            fwd = f"{t['ours_model']:.3f} / {t['pipe_model']:.3f}"
            rest = (
                f"{max(t['ours'] - t['ours_model'], 0):.3f} / "
                f"{max(t['pipe'] - t['pipe_model'], 0):.3f}"
            )
            print(
                f"{name:<7}{precision:<10}{t['ours']:>8.3f}{t['pipe']:>11.3f}"
                f"{ratio:>7.2f} [{t['ratio_lo']:.2f}-{t['ratio_hi']:.2f}]{fwd:>24}{rest:>25}"
                f"{rss['ours']:>8.0f}MB{rss['pipeline']:>8.0f}MB",
                flush=True,
            )
    print("-" * len(header))
    print(f"worst ratio ours/pipeline at the same precision: {worst:.2f} (target <= 0.80)")
    for line in accuracy:
        print(line)
    for name, ratio, r in cross:
        print(
            f"{name}: ours in bf16 / pipeline in fp32 = {ratio:.2f} "
            f"(our bf16 map vs our fp32 map: Pearson r = {r:.5f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
