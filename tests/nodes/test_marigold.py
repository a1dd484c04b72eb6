"""depth.marigold on a tiny random Marigold pipeline through the real loading path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Cancelled, Context, Depth, GatewayError, Image, ModelMissingError
from gateway_studio.engine.imageio import read_image, write_image
from nodes.depth_marigold import marigold
from tests.conftest import ROOT
from tests.nodes.tiny_marigold import save_tiny_marigold


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_marigold(tmp_path_factory.mktemp("marigold") / "tiny-marigold")


def scene(height: int = 48, width: int = 64) -> Image:
    """A receding floor and a near box: something with structure for the model."""
    yy, xx = np.mgrid[:height, :width] / np.array([height, width])[:, None, None]
    rgb = np.stack([0.2 + 0.6 * yy, 0.3 + 0.2 * xx, 0.5 - 0.3 * yy], axis=-1)
    rgb[10:30, 20:40] = (0.9, 0.3, 0.1)
    return Image(rgb.astype(np.float32))


def pipeline_prediction(folder: Path, pixels: np.ndarray, **kwargs: object) -> np.ndarray:
    """What diffusers' pipeline itself outputs (affine-invariant depth, larger = farther)."""
    import torch
    from diffusers import MarigoldDepthPipeline

    pipe = MarigoldDepthPipeline.from_pretrained(
        str(folder), use_safetensors=True, local_files_only=True
    )
    pipe.set_progress_bar_config(disable=True)
    out = pipe(
        np.ascontiguousarray(pixels, dtype=np.float32),
        generator=torch.Generator().manual_seed(int(kwargs.pop("seed", 0))),  # type: ignore[call-overload]
        output_type="np",
        **kwargs,
    )
    return np.asarray(out.prediction[0, :, :, 0], dtype=np.float32)


def test_render_gives_the_pipelines_depth_the_right_way_round(tiny: Path, tmp_path: Path) -> None:
    photo = write_image(tmp_path / "scene.png", scene())
    patch = tmp_path / "marigold.json"
    params = {"model": str(tiny), "steps": 2, "processing_resolution": 64, "seed": 7}
    patch.write_text(
        json.dumps(
            {
                "format": "gateway-studio.patch",
                "version": 1,
                "nodes": [
                    {"id": "photo", "type": "source.image", "params": {"path": "scene.png"}},
                    {"id": "depth", "type": "depth.marigold", "params": params},
                    {"id": "save", "type": "output.export", "params": {"path": "depth.npy"}},
                ],
                "links": [
                    {"from": "photo.image", "to": "depth.image"},
                    {"from": "depth.depth", "to": "save.source"},
                ],
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway_studio", "render", str(patch), "--report", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["nodes"]["depth"]["status"] == "computed"
    ours = np.load(tmp_path / "depth.npy")
    # The pipeline's own output on the same pixels and seed: larger = farther.
    pixels = read_image(photo).srgb_pixels()
    known = pipeline_prediction(
        tiny, pixels, num_inference_steps=2, processing_resolution=64, seed=7
    )
    assert known.shape == ours.shape and known.std() > 1e-4
    np.testing.assert_allclose(ours, Depth.from_affine_invariant(known).values, atol=1e-4)
    # Orientation: the pipeline's farthest pixel is our 0, its nearest our 1.
    assert ours.ravel()[np.argmax(known)] == pytest.approx(0.0, abs=1e-4)
    assert ours.ravel()[np.argmin(known)] == pytest.approx(1.0, abs=1e-4)
    assert np.corrcoef(ours.ravel(), known.ravel())[0, 1] < -0.9999  # reversed, linearly


def test_progress_per_denoising_step_and_cancel_between_steps(tiny: Path) -> None:
    messages: list[str] = []
    ctx = Context(report=lambda f, m: messages.append(m))
    depth = marigold(
        scene(), model=str(tiny), steps=3, ensemble_size=2, processing_resolution=64, ctx=ctx
    )
    assert depth.source_convention == "affine-invariant" and depth.size == (48, 64)
    steps = [m for m in messages if m.startswith("denoising step")]
    assert steps == [f"denoising step {i} of 6" for i in range(1, 7)]
    seen: list[str] = []
    stop = Context(
        report=lambda f, m: seen.append(m),
        cancelled=lambda: "denoising step 2 of 3" in seen,
    )
    with pytest.raises(Cancelled):
        marigold(scene(), model=str(tiny), steps=3, processing_resolution=64, ctx=stop)
    assert "denoising step 3 of 3" not in seen


def test_same_seed_same_depth_and_another_seed_differs(tiny: Path) -> None:
    run = {"model": str(tiny), "steps": 1, "processing_resolution": 64}
    a = marigold(scene(), seed=1, ctx=Context(), **run).values  # type: ignore[arg-type]
    b = marigold(scene(), seed=1, ctx=Context(), **run).values  # type: ignore[arg-type]
    c = marigold(scene(), seed=2, ctx=Context(), **run).values  # type: ignore[arg-type]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_wrong_or_missing_weights_are_named(tmp_path: Path, tiny: Path) -> None:
    other = tmp_path / "not-marigold"
    other.mkdir()
    (other / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (other / "unet").mkdir()
    (other / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    with pytest.raises(GatewayError, match="not a MarigoldDepthPipeline"):
        marigold(scene(), model=str(other), ctx=Context())
    with pytest.raises(ModelMissingError, match="models pull marigold-depth-v1-1"):
        marigold(scene(), model="marigold-depth-v1-1", ctx=Context())
