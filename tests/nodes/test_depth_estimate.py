"""depth.estimate and depth.region: slot contracts, fidelity against the transformers
pipeline on the same (tiny, random) model, edge refinement, missing weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import (
    Context,
    Depth,
    Evaluator,
    Field,
    GatewayError,
    Image,
    Mask,
    ModelMissingError,
    Segments,
    SlotCache,
    default_registry,
    load_patch,
    models,
)
from gateway_studio.engine.imageio import read_image
from nodes.depth import (
    Preprocessing,
    estimate,
    preprocess,
    refine_edges,
    region,
    region_statistics,
    upsample,
)
from tests.nodes.tiny_models import save_tiny_depth_anything, tiny_depth_anything_config

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "resources" / "images"
SMALL = "depth-anything-v2-small"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A models folder holding a tiny random Depth-Anything under the Small's name."""
    root = tmp_path_factory.mktemp("models")
    save_tiny_depth_anything(root / SMALL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(models.MODELS_ENV, str(root))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv(models.DEVICE_ENV, raising=False)
        yield root
    models.clear_cache()


@pytest.fixture(scope="module")
def photo() -> Image:
    """A non-square crop of the astronaut (aspect handling matters)."""
    img = read_image(IMAGES / "astronaut.png")
    return Image(np.array(img.pixels[40:440, 10:310]))  # 400 x 300


def run(image: Image, **params: object) -> tuple[Depth, list[tuple[float, str]]]:
    """The node on PyTorch unless a runtime is given: these tests pin its exact sums
    (compiled runtimes: tests/nodes/test_runtimes.py)."""
    params.setdefault("runtime", "torch")
    events: list[tuple[float, str]] = []
    ctx = Context(report=lambda f, m: events.append((f, m)))
    return estimate(image, ctx=ctx, **params), events


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(np.float64), b.ravel().astype(np.float64))[0, 1])


# ------------------------------------------------------------------------------ contract
def test_output_honours_the_depth_contract(model_dir: Path, photo: Image) -> None:
    depth, events = run(photo)
    assert isinstance(depth, Depth)
    assert depth.values.dtype == np.float32
    assert depth.values.shape == photo.size == (400, 300)
    assert depth.values.min() == 0.0 and depth.values.max() == 1.0  # min-max normalised
    assert depth.source_convention == "inverse"
    assert depth.raw_range[1] > depth.raw_range[0]
    assert float(depth.values.std()) > 0.02  # a real map, not a constant
    messages = [m for _, m in events]
    for step in ("loading model", "inference", "upsampling"):
        assert any(step in m for m in messages), messages
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_fidelity_matches_transformers_pipeline(model_dir: Path, photo: Image) -> None:
    """(a) No loss against the reference: same model, pipeline's predicted_depth at the
    input resolution, min-max normalised, vs our Depth slot."""
    from PIL import Image as PILImage
    from transformers import pipeline

    ours, _ = run(photo)
    pipe = pipeline("depth-estimation", model=str(model_dir / SMALL), device="cpu")
    pil = PILImage.fromarray(np.round(np.asarray(photo.pixels) * 255).astype(np.uint8))
    predicted = pipe(pil)["predicted_depth"].float().numpy()
    assert predicted.shape == ours.values.shape
    reference = (predicted - predicted.min()) / (predicted.max() - predicted.min())
    assert pearson(ours.values, reference) > 0.999
    assert float(np.abs(ours.values - reference).mean()) < 0.02


def test_preprocessing_matches_the_model_card(model_dir: Path, photo: Image) -> None:
    from transformers.models.dpt import DPTImageProcessorPil

    config = json.loads((model_dir / SMALL / "preprocessor_config.json").read_text())
    prep = Preprocessing.from_config(config, "depth_anything")
    assert prep.input_size(1080, 1920) == (518, 924)  # short side 518, multiple of 14
    # DPT's rule scales as little as possible: a small photo's long side becomes 518.
    assert prep.input_size(400, 300) == (518, 392)
    assert (prep.mean, prep.std, prep.mode) == (
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        "bicubic",
    )
    ours = preprocess(photo.srgb_pixels(), prep).pixel_values.numpy()
    processor = DPTImageProcessorPil(
        **{k: v for k, v in config.items() if k != "image_processor_type"}
    )
    u8 = np.round(np.asarray(photo.pixels) * 255).astype(np.uint8)
    theirs = processor(images=u8, return_tensors="np")["pixel_values"]
    assert ours.shape == theirs.shape == (1, 3, 518, 392)
    assert float(np.abs(ours - theirs).mean()) < 0.02  # 8-bit rounding + resampler detail
    assert pearson(ours, theirs) > 0.999


def test_resolution_knob_changes_the_model_input(model_dir: Path, photo: Image) -> None:
    config = json.loads((model_dir / SMALL / "preprocessor_config.json").read_text())
    prep = Preprocessing.from_config(config, "depth_anything", resolution=280)
    assert prep.input_size(400, 300) == (378, 280)
    default, _ = run(photo)
    coarse, _ = run(photo, resolution=280)
    assert coarse.values.shape == photo.size
    assert float(np.abs(coarse.values - default.values).mean()) > 1e-3


def test_bf16_is_close_to_fp32(model_dir: Path, photo: Image) -> None:
    fp32, _ = run(photo)
    bf16, _ = run(photo, precision="bf16")
    assert bf16.values.dtype == np.float32 and bf16.values.shape == photo.size
    assert pearson(fp32.values, bf16.values) > 0.95
    assert not np.array_equal(fp32.values, bf16.values)


def test_percentile_normalisation(model_dir: Path, photo: Image) -> None:
    minmax, _ = run(photo)
    robust, _ = run(photo, normalisation="percentile")
    assert robust.normalisation == "percentile"
    assert robust.values.min() >= 0.0 and robust.values.max() <= 1.0
    # Clipping the tails saturates about 1 % of pixels at each end.
    assert float((robust.values == 1.0).mean()) > 0.005
    # Same map, other levels: unsaturated pixels are an affine function of the min-max map.
    inside = (robust.values > 0) & (robust.values < 1)
    slope, offset = np.polyfit(minmax.values[inside], robust.values[inside], 1)
    assert slope > 1.0
    np.testing.assert_allclose(
        minmax.values[inside] * slope + offset, robust.values[inside], atol=1e-4
    )


def test_fixed_normalisation_maps_every_frame_alike(model_dir: Path, photo: Image) -> None:
    minmax, events = run(photo)
    assert any("raw model output" in message for _, message in events)
    lo, hi = minmax.raw_range
    same, _ = run(photo, normalisation="fixed", fixed_far=lo, fixed_near=hi)
    assert same.normalisation == "fixed"
    np.testing.assert_allclose(same.values, minmax.values, atol=1e-5)
    # a wider fixed range is not re-stretched to fill [0, 1] (no per-frame flicker)
    wide, _ = run(photo, normalisation="fixed", fixed_far=lo - (hi - lo), fixed_near=hi)
    np.testing.assert_allclose(wide.values, (minmax.values + 1.0) / 2.0, atol=1e-5)
    with pytest.raises(GatewayError, match="must be larger"):
        run(photo, normalisation="fixed", fixed_far=1.0, fixed_near=1.0)


def test_edge_refine_changes_the_map_within_the_contract(model_dir: Path, photo: Image) -> None:
    plain, _ = run(photo)
    refined, _ = run(photo, edge_refine=True)
    assert refined.values.shape == photo.size and refined.values.dtype == np.float32
    assert refined.values.min() >= 0.0 and refined.values.max() <= 1.0
    assert not np.array_equal(plain.values, refined.values)
    assert pearson(plain.values, refined.values) > 0.9  # same map, edges moved


def test_memory_cache_loads_the_model_once(model_dir: Path, photo: Image) -> None:
    first = models.load_model(SMALL)
    run(photo)
    run(photo, edge_refine=True)
    assert models.load_model(SMALL) is first
    assert models.load_model("depth-anything/Depth-Anything-V2-Small-hf") is first


def test_metric_model_goes_through_from_metric(
    tmp_path: Path, model_dir: Path, photo: Image
) -> None:
    """A metric model's output (larger = farther) is converted by the slot, not the node."""
    config = tiny_depth_anything_config()
    config.depth_estimation_type = "metric"
    config.max_depth = 20
    folder = save_tiny_depth_anything(tmp_path / "metric-da", config=config)
    depth, _ = run(photo, model=str(folder))
    assert depth.source_convention == "metric"
    loaded = models.load_model(str(folder))
    assert loaded.output == "metric"
    from nodes.depth import forward

    prep = Preprocessing.from_config(loaded.preprocessor, "depth_anything")
    raw = forward(loaded, preprocess(photo.srgb_pixels(), prep))
    full = upsample(raw, photo.size)
    np.clip(full, raw.min(), raw.max(), out=full)
    expected = Depth.from_metric(full)
    np.testing.assert_allclose(depth.values, expected.values, atol=1e-6)
    # Larger metric depth is farther: the nearest raw pixel maps to 1.
    assert depth.values.ravel()[np.argmin(full)] == pytest.approx(1.0)


# ------------------------------------------------------------------------------ missing
def test_missing_model_fails_fast_with_the_pull_command(model_dir: Path, photo: Image) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelMissingError) as info:
        run(photo, model="depth-anything-v2-large")
    assert time.perf_counter() - t0 < 1.0
    message = str(info.value)
    assert "depth-anything-v2-large" in message
    assert "gateway-studio models pull depth-anything-v2-large" in message
    assert str(model_dir) in message


def _write_patch(tmp_path: Path, model: str) -> Path:
    patch = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {
                "id": "photo",
                "type": "source.image",
                "params": {"path": str(IMAGES / "astronaut.png")},
            },
            {"id": "depth", "type": "depth.estimate", "params": {"model": model}},
            {
                "id": "export",
                "type": "output.export",
                "params": {"path": str(tmp_path / "out" / "depth.png")},
            },
        ],
        "links": [
            {"from": "photo.image", "to": "depth.image"},
            {"from": "depth.depth", "to": "export.source"},
        ],
    }
    path = tmp_path / "patch.json"
    path.write_text(json.dumps(patch))
    return path


def test_evaluator_reports_missing_model_and_caches_a_real_run(
    tmp_path: Path, model_dir: Path
) -> None:
    evaluator = Evaluator(SlotCache(None))
    missing = load_patch(_write_patch(tmp_path, "depth-anything-v2-base"), default_registry())
    result = evaluator.evaluate(missing)
    assert result.results["depth"].status == "failed"
    assert "models pull depth-anything-v2-base" in str(result.results["depth"].error)

    graph = load_patch(_write_patch(tmp_path, SMALL), default_registry())
    first = evaluator.evaluate(graph)
    assert first.ok, {k: v.error for k, v in first.results.items()}
    assert first.results["depth"].status == "computed"
    again = evaluator.evaluate(graph)
    assert again.results["depth"].status == "cached"  # re-running pays no inference
    written = tmp_path / "out" / "depth.png"
    from PIL import Image as PILImage

    with PILImage.open(written) as im:
        assert im.size == (512, 512) and im.mode in ("I;16", "I")


@pytest.mark.slow
def test_cli_render_missing_model_exits_fast_without_traceback(tmp_path: Path) -> None:
    patch = _write_patch(tmp_path, "depth-anything-v2-large")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    env.pop(models.MODELS_ENV, None)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway_studio",
            "render",
            str(patch),
            "--no-disk-cache",
            "--models-dir",
            str(tmp_path / "models"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    seconds = time.perf_counter() - t0
    assert proc.returncode != 0
    assert seconds < 2.0, f"took {seconds:.2f} s"
    assert "depth-anything-v2-large" in proc.stderr
    assert "gateway-studio models pull depth-anything-v2-large" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# ------------------------------------------------------------------------------ refine
def _step_scene(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A near disc (depth 0.8, red) in front of a far wall (depth 0.2, grey)."""
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2.3) ** 2 < (size / 3.5) ** 2
    depth = np.where(disc, 0.8, 0.2).astype(np.float32)
    photo = np.where(disc[..., None], [0.8, 0.2, 0.1], [0.45, 0.45, 0.5]).astype(np.float32)
    return depth, photo


def test_refine_edges_sharpens_steps_and_leaves_slopes() -> None:
    import cv2

    depth, photo = _step_scene()
    low = cv2.resize(depth, (24, 24), interpolation=cv2.INTER_AREA)
    plain = np.clip(upsample(low, depth.shape), 0, 1)
    refined = refine_edges(plain, photo, factor=4.0)
    edge = cv2.dilate((cv2.Laplacian(depth, cv2.CV_32F) != 0).astype(np.uint8), np.ones((9, 9)))
    edge = edge.astype(bool)
    err_plain = np.abs(plain - depth)[edge].mean()
    err_refined = np.abs(refined - depth)[edge].mean()
    assert err_refined < 0.6 * err_plain
    # A gentle slope (a floor: 0.2 of the depth range over 96 px) under a textured photo is
    # not a step: nothing changes there. The far wall at the right sets the map's range.
    scene = np.tile(np.linspace(0.3, 0.5, 96, dtype=np.float32), (96, 1))
    scene[:, 80:] = 1.0
    texture = np.random.default_rng(0).random((96, 96, 3)).astype(np.float32)
    out = refine_edges(scene, texture, factor=4.0)
    np.testing.assert_allclose(out[:, :74], scene[:, :74], atol=1e-6)


# ------------------------------------------------------------------------------ region
def test_region_fills_each_segment_with_its_mean() -> None:
    values = np.array([[0.1, 0.3, 0.9], [0.2, 0.4, 0.8]], dtype=np.float32)
    labels = np.array([[0, 0, 1], [0, -1, 1]], dtype=np.int32)
    depth = Depth.from_inverse(values, normalisation="fixed", fixed_range=(1.0, 0.0))
    out = region(depth, Segments(labels, ("wall", "person")))
    field, flat = out["field"], out["depth"]
    assert isinstance(field, Field) and isinstance(flat, Depth)
    expected = np.array([[0.2, 0.2, 0.85], [0.2, 0.4, 0.85]], dtype=np.float32)
    np.testing.assert_allclose(field.values, expected, atol=1e-6)
    np.testing.assert_array_equal(flat.values, field.values)
    zeroed = region(depth, Segments(labels, ("wall", "person")), outside="zero")["field"]
    assert zeroed.values[1, 1] == 0.0


def test_region_median_and_mask() -> None:
    values = np.array([[0.1, 0.2, 0.9, 0.5]], dtype=np.float32)
    depth = Depth.from_inverse(values, normalisation="fixed", fixed_range=(1.0, 0.0))
    mask = Mask(np.array([[1, 1, 1, 0]], dtype=np.float32))
    mean = region(depth, mask)["field"].values
    median = region(depth, mask, statistic="median")["field"].values
    np.testing.assert_allclose(mean, [[0.4, 0.4, 0.4, 0.5]], atol=1e-6)
    np.testing.assert_allclose(median, [[0.2, 0.2, 0.2, 0.5]], atol=1e-6)
    even = region_statistics(np.array([1, 2, 3, 4], np.float32), np.zeros(4, np.int32), 2, "median")
    assert even[0] == 2.5 and np.isnan(even[1])


def test_region_refuses_mismatched_sizes() -> None:
    depth = Depth.from_inverse(np.zeros((4, 4)) + np.eye(4))
    with pytest.raises(Exception, match="same photo"):
        region(depth, Mask(np.ones((3, 4), np.float32)))


def test_region_accepts_segments_or_mask_in_the_graph() -> None:
    spec = default_registry().get("depth.region")
    regions = spec.input("regions")
    assert regions is not None
    assert regions.accepts(Segments) and regions.accepts(Mask)
    assert not regions.accepts(Image)


def test_relative_model_folder_resolves_against_the_patch(
    tmp_path: Path, model_dir: Path, photo: Image
) -> None:
    import shutil

    shutil.copytree(model_dir / SMALL, tmp_path / "weights" / "my-depth")
    ctx = Context(base_dir=tmp_path)
    depth = estimate(photo, model="./weights/my-depth", ctx=ctx)
    assert depth.values.shape == photo.size
    with pytest.raises(ModelMissingError, match="no such folder"):
        estimate(photo, model="./weights/other", ctx=ctx)


def test_zoedepth_metric_model(tmp_path: Path, model_dir: Path, photo: Image) -> None:
    """ZoeDepth: reflect padding, align-corners resize, multiple of 32, metric output."""
    from transformers.models.zoedepth import ZoeDepthImageProcessorPil

    from tests.nodes.tiny_models import ZOEDEPTH_PROCESSOR, save_tiny_zoedepth

    folder = save_tiny_zoedepth(tmp_path / "zoe")
    prep = Preprocessing.from_config(ZOEDEPTH_PROCESSOR, "zoedepth")
    assert prep.zoe_pad and prep.multiple == 32 and prep.mode == "bilinear"
    ours = preprocess(photo.srgb_pixels(), prep)
    config = {k: v for k, v in ZOEDEPTH_PROCESSOR.items() if k != "image_processor_type"}
    u8 = np.round(np.asarray(photo.pixels) * 255).astype(np.uint8)
    theirs = ZoeDepthImageProcessorPil(**config)(images=u8, return_tensors="np")["pixel_values"]
    assert ours.pixel_values.shape == theirs.shape == (1, 3, 384, 288)
    np.testing.assert_allclose(ours.pixel_values.numpy(), theirs, atol=1e-4)
    assert ours.crop[0] == pytest.approx(42 / 484) and ours.crop[2] == pytest.approx(36 / 372)

    depth, _ = run(photo, model=str(folder))
    assert depth.source_convention == "metric"
    assert depth.values.shape == photo.size and depth.values.dtype == np.float32
    assert depth.values.min() == 0.0 and depth.values.max() == 1.0


@pytest.mark.parametrize("kind", ["depth-anything", "zoedepth"])
def test_channels_last_forward_matches_the_plain_model(
    tmp_path: Path, model_dir: Path, photo: Image, kind: str
) -> None:
    """The optimised forward (neck/head channels-last) gives the plain model's output."""
    import dataclasses

    import torch
    from transformers import AutoModelForDepthEstimation

    from nodes.depth import forward
    from tests.nodes.tiny_models import save_tiny_zoedepth

    if kind == "zoedepth":
        folder, model_type = save_tiny_zoedepth(tmp_path / "zoe"), "zoedepth"
    else:
        folder, model_type = model_dir / SMALL, "depth_anything"
    loaded = models.load_model(str(folder))
    prepared = preprocess(
        photo.srgb_pixels(), Preprocessing.from_config(loaded.preprocessor, model_type)
    )
    fast = forward(loaded, prepared)

    def a_3x3_conv(model: torch.nn.Module) -> torch.Tensor:  # 1x1 weights are both layouts
        convs = (m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        return next(c.weight for c in convs if c.kernel_size == (3, 3))

    assert a_3x3_conv(loaded.model.neck).is_contiguous(memory_format=torch.channels_last)
    plain_model = AutoModelForDepthEstimation.from_pretrained(str(folder)).eval()
    plain = forward(dataclasses.replace(loaded, model=plain_model), prepared, optimise=False)
    assert not a_3x3_conv(plain_model.neck).is_contiguous(memory_format=torch.channels_last)
    assert fast.shape == plain.shape
    assert pearson(fast, plain) > 0.9999
    scale = float(np.abs(plain).max())
    assert float(np.abs(fast - plain).max()) <= 1e-4 * scale


def test_replaced_weights_are_never_served_from_the_cache(tmp_path: Path) -> None:
    """The model's identity is part of the key: new weights in the same folder recompute."""
    from gateway_studio.engine import Evaluator, PatchGraph, default_registry, models
    from gateway_studio.engine.graph import Link

    folder = tmp_path / "model"
    save_tiny_depth_anything(folder)
    g = PatchGraph(default_registry())
    g.add_node("source.sample", {"name": "coffee"}, node_id="photo")
    g.add_node("depth.estimate", {"model": str(folder)}, node_id="depth")
    g.connect(Link("photo", "image", "depth", "image"))
    evaluator = Evaluator()
    assert evaluator.evaluate(g).results["depth"].status == "computed"
    assert evaluator.evaluate(g).results["depth"].status == "cached"
    weights = next(folder.glob("*.safetensors"))
    later = time.time() + 10
    os.utime(weights, (later, later))  # as if new weights had been copied in
    models.identities._identities.clear()
    assert evaluator.evaluate(g).results["depth"].status == "computed"
