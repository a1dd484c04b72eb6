"""depth.estimate on each runtime vs transformers' depth pipeline, side by side, one run.

Every method runs the same model folder: random weights of the real Depth-Anything-V2
configs (same FLOPs as the real weights, which these machines do not have; FACTS.md).
One process, interleaved: each round gives every method a *new* photo (a different crop
of the sample, same 1920x1080 size: no cache can help), in a rotating order, so all see
the same machine load. The export / first compile of a runtime happens in a warm-up call
and is printed separately (the app pays it once per model and input shape).

    .venv/bin/python benchmarks/depth_speed.py [--models small,base,large] [--rounds 3]
    .venv/bin/python benchmarks/depth_speed.py --smoke     # tiny model, seconds

Ours = the whole depth.estimate node (preprocess + forward + bicubic upsample to the
photo + Depth slot); pipeline = ``pipe(pil_image)`` on torch fp32 (its preprocess +
forward + upsample + 8-bit preview). ratio = median over rounds of (ours / pipeline in
the same round); r = Pearson correlation of our Depth with the pipeline's predicted depth
on the same photo. Target (issue #10): runtime auto <= 0.25x the pipeline, r >= 0.999.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIGS = {
    # name: (hidden, layers, heads, out_indices, neck sizes, fusion)
    "small": (384, 12, 6, [3, 6, 9, 12], [48, 96, 192, 384], 64),
    "base": (768, 12, 12, [3, 6, 9, 12], [96, 192, 384, 768], 128),
    "large": (1024, 24, 16, [5, 12, 18, 24], [256, 512, 1024, 1024], 256),
}
#: (runtime, precision) of the node, in the order printed.
METHODS = [
    ("torch", "fp32"),
    ("torch", "bf16"),
    ("onnxruntime", "fp32"),
    ("openvino", "fp32"),
    ("openvino", "bf16"),
    ("auto", "auto"),
]


def build(name: str, folder: Path) -> Path:
    """Save a random-weight Depth-Anything-V2 of the real config (once per folder)."""
    if (folder / "model.safetensors").exists():
        return folder
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    from tests.nodes.tiny_models import DEPTH_ANYTHING_PROCESSOR, save_tiny_depth_anything

    if name == "tiny":
        return save_tiny_depth_anything(folder)
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
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(DEPTH_ANYTHING_PROCESSOR))
    return folder


def photos(count: int, size: tuple[int, int]) -> list[Any]:
    """``count`` different photos of ``size`` (w, h): crops of the sample at other places."""
    from PIL import Image as PILImage

    with PILImage.open(ROOT / "resources" / "images" / "coffee.png") as im:
        base = im.convert("RGB").resize((size[0] * 5 // 4, size[1] * 5 // 4))
    out = []
    for i in range(count):
        dx = (i * 97) % (base.width - size[0] + 1)
        dy = (i * 53) % (base.height - size[1] + 1)
        crop = base.crop((dx, dy, dx + size[0], dy + size[1]))
        out.append(crop.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT) if i % 2 else crop)
    return out


def pipeline_runner(folder: Path) -> Callable[[Any], Any]:
    from transformers import pipeline

    pipe = pipeline("depth-estimation", model=str(folder), device="cpu")

    def run(pil: Any) -> Any:
        return pipe(pil)["predicted_depth"].float().numpy()

    return run


def node_runner(folder: Path, runtime: str, precision: str) -> Callable[[Any], Any]:
    import numpy as np

    from gateway_studio.engine import Context, Image
    from nodes.depth import estimate

    def run(pil: Any, ctx: Context | None = None) -> Any:
        image = Image(np.asarray(pil, dtype=np.float32) / 255.0)
        ctx = ctx if ctx is not None else Context()
        depth = estimate(image, model=str(folder), runtime=runtime, precision=precision, ctx=ctx)
        return depth.values

    return run


def available(runtime: str) -> bool:
    from gateway_studio.engine.models.compiled import missing_packages

    return runtime in ("torch", "auto") or not missing_packages(runtime)


def measure(
    folder: Path, rounds: int, size: tuple[int, int], only: set[str] | None = None
) -> dict[str, Any]:
    """Warm up every method (exports included), then ``rounds`` interleaved rounds."""
    import numpy as np

    from gateway_studio.engine import Context, models

    methods = [
        (rt, p) for rt, p in METHODS if available(rt) and (only is None or f"{rt}-{p}" in only)
    ]
    runners: dict[str, Callable[..., Any]] = {"pipeline": pipeline_runner(folder)}
    setup: dict[str, str] = {}
    pics = photos(rounds + 1, size)
    for rt, p in methods:
        name = f"{rt} {p}"
        runners[name] = node_runner(folder, rt, p)
        ctx = Context()
        t0 = time.perf_counter()
        runners[name](pics[0], ctx)  # the export (once per model and shape) happens here
        setup[name] = f"{time.perf_counter() - t0:.1f} s; " + "; ".join(ctx.notes)
    runners["pipeline"](pics[0])
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    r: dict[str, list[float]] = {n: [] for n in names}
    for i, pil in enumerate(pics[1:]):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate who goes first
        out: dict[str, Any] = {}
        for n in order:
            t0 = time.perf_counter()
            out[n] = runners[n](pil)
            times[n].append(time.perf_counter() - t0)
        for n in names:
            r[n].append(models.correlation(out[n], out["pipeline"]))
    ref = times["pipeline"]
    return {
        "seconds": {n: float(np.median(v)) for n, v in times.items()},
        "ratio": {
            n: float(np.median([a / b for a, b in zip(v, ref, strict=True)]))
            for n, v in times.items()
        },
        "spread": {
            n: (
                min(a / b for a, b in zip(v, ref, strict=True)),
                max(a / b for a, b in zip(v, ref, strict=True)),
            )
            for n, v in times.items()
        },
        "r": {n: min(v) for n, v in r.items()},
        "setup": setup,
        "bf16_cpu": models.openvino_has_bf16() if available("openvino") else False,
    }


def report(name: str, res: dict[str, Any], rounds: int, size: tuple[int, int]) -> None:
    what = "a tiny test config" if name == "tiny" else "random weights of the real config"
    print(f"\n== Depth-Anything-V2-{name.capitalize()} ({what})")
    print(
        f"{size[0]}x{size[1]} photos, a new one each round, {rounds} interleaved rounds; "
        f"ratio = median of same-round (method / pipeline), [min-max]"
    )
    print(f"{'method':<20}{'s':>8}{'ratio':>8}{'[min-max]':>14}{'r vs pipeline':>15}")
    for n, sec in res["seconds"].items():
        lo, hi = res["spread"][n]
        print(f"{n:<20}{sec:>8.3f}{res['ratio'][n]:>8.2f}  [{lo:.2f}-{hi:.2f}]{res['r'][n]:>15.6f}")
    print("first call of each method (load, export or compile from disk), and its notes:")
    for n, text in res["setup"].items():
        print(f"  {n:<18} {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="small", help="comma-separated: small,base,large")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "gs-depth-speed"
    )
    parser.add_argument(
        "--methods",
        default="",
        help="comma-separated runtime-precision pairs, e.g. torch-fp32,openvino-fp32 (all)",
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny model, small photos")
    args = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from gateway_studio.malloc import keep_freed_buffers

    # before torch starts its threads: the allocator the app and the CLI run with (it makes
    # the pipeline ~0.7x the time here; our node's time barely moves)
    tuned = keep_freed_buffers()
    import torch

    torch.set_num_threads(args.threads)
    if args.smoke:
        names, size, rounds = ["tiny"], (140, 98), 1
        # Exports land in a fresh folder: the smoke run exercises the export path.
        os.environ["GATEWAY_STUDIO_CACHE"] = tempfile.mkdtemp(prefix="gs-depth-speed-")
    else:
        names, size, rounds = args.models.split(","), (1920, 1080), args.rounds
        os.environ.setdefault("GATEWAY_STUDIO_CACHE", str(args.cache / "slot-cache"))
    print(f"allocator tuned like the app: {tuned}; {args.threads} threads; ", end="")
    print("CPU bf16 in OpenVINO: ", end="")
    for name in names:
        folder = build(name, args.cache / f"depth-anything-v2-{name}-random")
        res = measure(folder, rounds, size, set(args.methods.split(",")) if args.methods else None)
        if name == names[0]:
            print("yes" if res["bf16_cpu"] else "no")
        report(name, res, rounds, size)
        if args.smoke:  # a broken runtime path fails CI: fp32 runtimes must agree
            bad = [n for n, v in res["r"].items() if "fp32" in n and v < 0.99]
            if bad:
                print(f"smoke: {bad} disagree with the pipeline", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
