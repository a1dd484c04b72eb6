"""Compiled runtimes (OpenVINO, ONNX Runtime) for depth.estimate and segment.semantic.

Tiny random models through the real loading and export paths: the compiled output agrees
with PyTorch, the artefact is exported once and read back from disk, precision ``auto``
decides by a measured r, an export failure falls back to PyTorch and says so.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Context, Image, models
from gateway_studio.engine.models import compiled
from nodes import segmentation as S
from nodes.depth import estimate
from tests.nodes.tiny_models import save_tiny_depth_anything
from tests.nodes.tiny_seg import save_tiny_segformer

pytestmark = pytest.mark.skipif(
    bool(compiled.missing_packages("openvino") or compiled.missing_packages("onnxruntime")),
    reason="the runtimes extras are not installed",
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_depth_anything(tmp_path_factory.mktemp("rt") / "tiny-da")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test exports into its own empty cache folder."""
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GATEWAY_STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    compiled.clear_compiled()
    yield tmp_path / "cache" / "compiled"
    compiled.clear_compiled()


def photo(height: int = 90, width: int = 120, seed: int = 0) -> Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width] / max(height, width)
    base = np.stack([yy, xx, 0.5 * (yy + xx)], axis=-1)
    return Image(np.clip(base + 0.2 * rng.random((height, width, 3)), 0, 1).astype(np.float32))


def depth(image: Image, tiny: Path, **params: str) -> tuple[np.ndarray, list[str]]:
    ctx = Context()
    out = estimate(image, model=str(tiny), ctx=ctx, **params)
    return np.asarray(out.values), ctx.notes


def artefacts(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*") if (p / "meta.json").is_file())


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_compiled_runtime_matches_torch_and_says_what_ran(
    tiny: Path, cache: Path, runtime: str
) -> None:
    image = photo()
    ref, ref_notes = depth(image, tiny, runtime="torch", precision="fp32")
    got, notes = depth(image, tiny, runtime=runtime, precision="fp32")
    assert models.correlation(got, ref) > 0.99999
    assert np.abs(got - ref).max() < 1e-3
    assert not ref_notes
    assert any(n.startswith(f"runtime: {runtime} fp32") and "exported once" in n for n in notes)
    (folder,) = artefacts(cache)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["runtime"] == runtime and meta["precisions"]["fp32"]["precision"] == "fp32"
    assert (folder / ("model.xml" if runtime == "openvino" else "model.onnx")).is_file()


def test_export_happens_once_per_model_and_shape(tiny: Path, cache: Path) -> None:
    _, notes = depth(photo(seed=1), tiny, runtime="openvino", precision="fp32")
    assert any("exported once" in n for n in notes)
    compiled.clear_compiled()  # a new process: only the disk remains
    _, notes = depth(photo(seed=2), tiny, runtime="openvino", precision="fp32")
    assert notes == ["runtime: openvino fp32"]  # read from disk: no export
    # Same aspect ratio at another size: the same model input shape, the same artefact.
    depth(photo(180, 240, seed=3), tiny, runtime="openvino", precision="fp32")
    assert len(artefacts(cache)) == 1
    # Another precision of the same model and shape: the same export.
    depth(photo(seed=4), tiny, runtime="openvino", precision="auto")
    assert len(artefacts(cache)) == 1
    # Another aspect ratio: another shape, another export.
    _, notes = depth(photo(90, 200), tiny, runtime="openvino", precision="fp32")
    assert any("exported once" in n for n in notes)
    assert len(artefacts(cache)) == 2


def test_auto_precision_keeps_bf16_only_above_the_r_threshold(
    tiny: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = photo()
    ref, _ = depth(image, tiny, runtime="torch", precision="fp32")
    # The tiny random model is very sensitive to rounding: bf16 falls below r 0.9999.
    got, notes = depth(image, tiny, runtime="openvino", precision="auto")
    assert any(n.startswith("runtime: openvino fp32") for n in notes), notes
    assert models.correlation(got, ref) > 0.99999
    (folder,) = artefacts(cache)
    decided = json.loads((folder / "meta.json").read_text())["precisions"]["auto"]
    assert decided["precision"] == "fp32"
    if compiled.openvino_has_bf16():
        assert decided["r"] < compiled.BF16_MIN_R
        # With a lower bar (a new decision for the same export) bf16 is kept.
        monkeypatch.setattr(compiled, "BF16_MIN_R", 0.9)
        compiled.clear_compiled()
        (folder / "meta.json").write_text(
            json.dumps({**json.loads((folder / "meta.json").read_text()), "precisions": {}})
        )
        low, notes = depth(image, tiny, runtime="openvino", precision="auto")
        assert any(n.startswith("runtime: openvino bf16") for n in notes), notes
        assert 0.9 < models.correlation(low, ref) < 0.99999
    else:
        assert "no native bf16" in decided["note"]


def test_export_failure_falls_back_to_torch_visibly(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("unsupported operator aten::frobnicate")

    monkeypatch.setitem(compiled._EXPORT, "openvino", broken)
    image = photo()
    ref, _ = depth(image, tiny, runtime="torch", precision="fp32")
    got, notes = depth(image, tiny, runtime="openvino", precision="fp32")
    np.testing.assert_array_equal(got, ref)  # PyTorch ran
    assert len(notes) == 1
    assert notes[0].startswith("openvino failed, ran PyTorch instead")
    assert "aten::frobnicate" in notes[0]


def test_pick_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    assert models.pick_runtime("auto", "cpu") == ("openvino" if x86 else "torch")
    assert models.pick_runtime("auto", "cuda") == "torch"
    assert models.pick_runtime("onnxruntime", "cpu") == "onnxruntime"
    with pytest.raises(models.ModelError, match="unknown runtime 'tensorrt'"):
        models.pick_runtime("tensorrt", "cpu")
    with pytest.raises(models.ModelError, match="runs on the CPU"):
        models.pick_runtime("openvino", "cuda")
    monkeypatch.setattr(compiled, "missing_packages", lambda runtime: ["openvino"])
    assert models.pick_runtime("auto", "cpu") == "torch"
    with pytest.raises(models.ModelError, match=r"gateway-studio\[runtimes\]"):
        models.pick_runtime("openvino", "cpu")


def test_openvino_is_imported_without_usage_reporting(tiny: Path) -> None:
    depth(photo(), tiny, runtime="openvino", precision="fp32")
    assert "openvino" in sys.modules
    assert sys.modules.get("openvino_telemetry", None) is None


def test_segmentation_on_compiled_runtimes_matches_torch(tmp_path: Path) -> None:
    folder = save_tiny_segformer(tmp_path / "tiny-segformer")
    image = photo(120, 160)
    ref = S.semantic(image, model=str(folder), runtime="torch", ctx=Context())["segments"]
    for runtime in ("openvino", "onnxruntime"):
        ctx = Context()
        out = S.semantic(image, model=str(folder), runtime=runtime, precision="fp32", ctx=ctx)
        assert (out["segments"].labels == ref.labels).mean() > 0.995
        assert out["segments"].names == ref.names
        assert any(n.startswith(f"runtime: {runtime} fp32") for n in ctx.notes)


def test_the_fallback_reaches_the_evaluators_report(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_studio.engine import Evaluator, Link, PatchGraph, default_registry
    from gateway_studio.engine.imageio import write_image

    def broken(*args: object) -> None:
        raise RuntimeError("no converter for this graph")

    monkeypatch.setitem(compiled._EXPORT, "openvino", broken)
    write_image(tmp_path / "p.png", photo())
    graph = PatchGraph(default_registry())
    graph.add_node("source.image", {"path": str(tmp_path / "p.png")}, node_id="photo")
    graph.add_node("depth.estimate", {"model": str(tiny), "runtime": "openvino"}, node_id="d")
    graph.connect(Link("photo", "image", "d", "image"))
    report = Evaluator().evaluate(graph).report()
    assert report["ok"], report
    notes = report["nodes"]["d"]["notes"]
    assert any("openvino failed, ran PyTorch instead" in n for n in notes), notes
