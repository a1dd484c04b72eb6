"""generate.controlnet on a tiny random SD 1.5 + ControlNet, loaded through the real,
offline ``from_pretrained`` path from a models folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")

from gateway_studio.engine import (
    CancelToken,
    Depth,
    Evaluator,
    ModelMissingError,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    Normals,
    PatchGraph,
    SlotCache,
    default_registry,
)
from nodes.generate import _pipeline_problem, condition_image
from tests.nodes.tiny_diffusion import save_tiny_controlnet, save_tiny_sd


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    save_tiny_sd(root / "stable-diffusion-v1-5")
    save_tiny_controlnet(root / "controlnet-depth-sd15")
    return root


def ramp() -> Depth:
    """Near (1.0) on the left, far on the right; 48 x 64."""
    values = np.tile(np.linspace(1.0, 0.0, 64, dtype=np.float32), (48, 1))
    return Depth.from_inverse(values)


def graph(tmp_path: Path, **params: object) -> PatchGraph:
    np.save(tmp_path / "d.npy", ramp().values)
    g = PatchGraph(default_registry(), base_dir=tmp_path)
    g.add_node("depth.from_file", {"path": "d.npy"}, node_id="depth")
    g.add_node(
        "generate.controlnet",
        {"prompt": "a stone hall", "steps": 3, "resolution": 64, **params},
        node_id="gen",
    )
    from gateway_studio.engine import Link

    g.connect(Link("depth", "depth", "gen", "control"))
    return g


def test_the_conditioning_is_the_depth_slot_near_white() -> None:
    cond = condition_image(ramp())
    assert cond.dtype == np.uint8 and cond.shape == (48, 64, 3)
    assert cond[0, 0].tolist() == [255, 255, 255]  # nearest = white
    assert cond[0, -1].tolist() == [0, 0, 0]  # farthest = black
    vectors = np.zeros((4, 4, 3), np.float32)
    vectors[..., 2] = 1.0  # facing the camera: (128, 128, 255)
    assert condition_image(Normals(vectors))[0, 0].tolist() == [128, 128, 255]


def test_same_seed_same_bytes_with_steps_and_cancel_in_the_events(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(weights))
    g = graph(tmp_path)
    events: list[object] = []
    first = Evaluator(SlotCache(None)).evaluate(g, listener=events.append, strict=True)
    assert first.ok, first.report()
    steps = [e.message for e in events if isinstance(e, NodeProgress) and e.node_id == "gen"]
    assert [m for m in steps if m.startswith("step")] == ["step 1/3", "step 2/3", "step 3/3"]
    a = first.output("gen", "image")
    assert a.size == (48, 64)  # the input's size
    second = Evaluator(SlotCache(None)).evaluate(g, strict=True)  # a fresh cache: recomputed
    assert second.results["gen"].status == "computed"
    b = second.output("gen", "image")
    assert np.asarray(a.data).tobytes() == np.asarray(b.data).tobytes()
    g.set_param("gen", "seed", 1)
    c = Evaluator(SlotCache(None)).evaluate(g, strict=True).output("gen", "image")
    assert np.abs(np.asarray(c.data) - np.asarray(a.data)).max() > 1e-3
    # the control matters: a flat depth gives another picture
    g.set_param("gen", "seed", 0)
    g.set_param("gen", "conditioning_scale", 0.0)
    d = Evaluator(SlotCache(None)).evaluate(g, strict=True).output("gen", "image")
    assert np.abs(np.asarray(d.data) - np.asarray(a.data)).max() > 1e-4
    # cancel between steps: after the first step, the node ends cancelled
    token = CancelToken()
    seen: list[object] = []

    def listen(event: object) -> None:
        seen.append(event)
        if isinstance(event, NodeProgress) and event.message == "step 1/3":
            token.cancel()

    g.set_param("gen", "seed", 7)
    run = Evaluator(SlotCache(None)).evaluate(g, listener=listen, cancel=token)
    assert run.results["gen"].status == "cancelled"
    assert any(isinstance(e, NodeFailed) and e.status == "cancelled" for e in seen)
    assert not any(isinstance(e, NodeProgress) and e.message == "step 2/3" for e in seen)
    assert not any(isinstance(e, NodeFinished) and e.node_id == "gen" for e in seen)


def test_missing_weights_and_unsafe_folders_are_refused(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path / "empty"))
    run = Evaluator(SlotCache(None)).evaluate(graph(tmp_path))
    error = run.results["gen"].error or ""
    assert "stable-diffusion-v1-5" in error and "hf download" in error
    # a pipeline naming a class outside diffusers/transformers is never loaded
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    index = json.loads((weights / "stable-diffusion-v1-5" / "model_index.json").read_text())
    index["unet"] = ["os", "system"]
    (hostile / "model_index.json").write_text(json.dumps(index))
    assert "only diffusers/transformers" in (_pipeline_problem(hostile) or "")
    from nodes.generate import _resolve

    with pytest.raises(ModelMissingError, match="only diffusers/transformers"):
        from gateway_studio.engine import Context

        _resolve(str(hostile), Context(base_dir=tmp_path), _pipeline_problem)


def test_img2img_repaints_the_photo_under_the_control(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image as PILImage

    from gateway_studio.engine import Link

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(weights))
    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    g = graph(tmp_path, steps=4, strength=0.5)
    g.add_node("source.image", {"path": "p.png"}, node_id="photo")
    g.connect(Link("photo", "image", "gen", "image"))
    events: list[object] = []
    a = Evaluator(SlotCache(None)).evaluate(g, listener=events.append, strict=True)
    assert a.ok, a.report()
    steps = [e.message for e in events if isinstance(e, NodeProgress) and e.node_id == "gen"]
    assert [m for m in steps if m.startswith("step")] == ["step 1/2", "step 2/2"]  # 4 x 0.5
    b = Evaluator(SlotCache(None)).evaluate(g, strict=True)
    assert np.array_equal(a.output("gen", "image").data, b.output("gen", "image").data)
    g.set_param("gen", "strength", 1.0)
    c = Evaluator(SlotCache(None)).evaluate(g, strict=True)
    assert not np.array_equal(a.output("gen", "image").data, c.output("gen", "image").data)
    # a photo of another size is refused, naming both sizes
    PILImage.fromarray(rng.integers(0, 255, (40, 64, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    d = Evaluator(SlotCache(None)).evaluate(g)
    assert "64x40" in (d.results["gen"].error or "") and "64x48" in (d.results["gen"].error or "")


def test_an_sdxl_pipeline_renders_through_the_same_node(tmp_path: Path) -> None:
    from gateway_studio.engine import Context
    from nodes.generate import controlnet
    from tests.nodes.tiny_diffusion import save_tiny_sdxl

    save_tiny_sdxl(tmp_path / "sdxl", tmp_path / "sdxl-depth")
    knobs = {
        "prompt": "a hall",
        "base_model": "./sdxl",
        "controlnet": "./sdxl-depth",
        "steps": 2,
        "resolution": 64,
        "ctx": Context(base_dir=tmp_path),
    }
    a = controlnet(ramp(), **knobs)
    b = controlnet(ramp(), **knobs)
    assert a.size == (48, 64)
    assert np.asarray(a.data).tobytes() == np.asarray(b.data).tobytes()
    assert float(np.asarray(a.data).std()) > 0.01


def test_in_the_app_it_paints_in_the_model_worker_with_the_same_bytes(
    weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_studio.engine import remote

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(weights))
    g = graph(tmp_path)
    here = Evaluator(SlotCache(None)).evaluate(g, strict=True).output("gen", "image")
    quick = Evaluator(SlotCache(None)).evaluate(g, strict=True, preview=1024).output("gen", "image")
    remote.use_worker(True)
    try:
        events: list[object] = []
        run = Evaluator(SlotCache(None)).evaluate(g, listener=events.append, strict=True)
        preview = Evaluator(SlotCache(None)).evaluate(g, strict=True, preview=1024)
    finally:
        remote.use_worker(False)
        remote.worker().stop()
    messages = [e.message for e in events if isinstance(e, NodeProgress) and e.node_id == "gen"]
    assert any("in the model worker" in m for m in messages)
    assert "step 3/3" in messages  # the worker's per-step progress reaches the node
    there = run.output("gen", "image")
    # the same picture; another process may sum in another order (a float step apart)
    np.testing.assert_allclose(np.asarray(there.data), np.asarray(here.data), atol=1e-4)
    # the preview flag crosses too: a quarter of the steps at half the resolution
    shown = np.asarray(preview.output("gen", "image").data)
    np.testing.assert_allclose(shown, np.asarray(quick.data), atol=1e-4)
    assert np.abs(shown - np.asarray(here.data)).max() > 1e-3
