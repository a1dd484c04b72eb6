"""The model store's real loading path (transformers, safetensors, offline) on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway_studio import cli
from gateway_studio.engine import ModelMissingError, models
from tests.nodes.tiny_models import save_tiny_depth_anything

SMALL = "depth-anything-v2-small"
SMALL_HUB = "depth-anything/Depth-Anything-V2-Small-hf"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_depth_anything(tmp_path_factory.mktemp("tiny") / "model")


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_loads_a_real_model_from_the_models_folder(tiny: Path, store: Path) -> None:
    import torch
    from transformers import DepthAnythingForDepthEstimation

    _copy(tiny, store / "depth-anything--Depth-Anything-V2-Small-hf")
    loaded = models.load_model(SMALL)
    assert isinstance(loaded.model, DepthAnythingForDepthEstimation)
    assert not loaded.model.training
    assert loaded.device == "cpu" and loaded.dtype == torch.float32
    assert next(loaded.model.parameters()).dtype == torch.float32
    assert loaded.preprocessor["ensure_multiple_of"] == 14
    assert loaded.config["model_type"] == "depth_anything"
    assert loaded.info is models.lookup(SMALL) and loaded.output == "relative-inverse"
    assert models.load_model(SMALL_HUB) is loaded  # one load per (files, device, dtype)


def test_bf16_loads_bf16_weights(tiny: Path, store: Path) -> None:
    import torch

    loaded = models.load_model(str(tiny), precision="bf16")
    assert next(loaded.model.parameters()).dtype == torch.bfloat16
    assert loaded.info is None and loaded.output == "relative-inverse"
    assert models.load_model(str(tiny)) is not loaded  # fp32 is another entry


def test_loads_from_the_hugging_face_cache_offline(tiny: Path, store: Path, tmp_path: Path) -> None:
    base = tmp_path / "hf-cache" / "models--depth-anything--Depth-Anything-V2-Small-hf"
    commit = "a" * 40
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    _copy(tiny, base / "snapshots" / commit)
    loaded = models.load_model(SMALL)
    assert loaded.path == base / "snapshots" / commit


def test_device_override_from_the_environment(
    tiny: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.DEVICE_ENV, "cpu")
    assert models.load_model(str(tiny)).device == "cpu"
    monkeypatch.setenv(models.DEVICE_ENV, "cuda")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(models.ModelError, match="CUDA is not available"):
            models.load_model(str(tiny))


def test_remote_code_is_never_run(tmp_path: Path, store: Path) -> None:
    """A folder whose config asks for custom code is refused; its code never runs."""
    folder = tmp_path / "custom"
    folder.mkdir()
    marker = tmp_path / "ran.txt"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "evil",
                "auto_map": {"AutoModelForDepthEstimation": "modeling_evil.EvilModel"},
            }
        )
    )
    (folder / "model.safetensors").write_bytes(b"\0" * 8)
    with pytest.raises(Exception) as info:
        models.load_model(str(folder))
    assert not marker.exists()
    assert "evil" in str(info.value) or "not a depth-estimation model" in str(info.value)


def test_wrong_task_is_a_clear_error(tiny: Path, store: Path) -> None:
    with pytest.raises(models.ModelError, match="not a semantic-segmentation model"):
        models.load_model(str(tiny), task="semantic-segmentation")


def test_missing_weights_never_fall_back(store: Path) -> None:
    with pytest.raises(ModelMissingError, match="models pull depth-anything-v2-small"):
        models.load_model(SMALL)


def test_cli_models_list_shows_the_local_model(
    tiny: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy(tiny, store / SMALL)
    assert cli.main(["models", "--models-dir", str(store), "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[SMALL]["present"] is True and rows[SMALL]["path"] == str((store / SMALL).resolve())
    assert rows["zoedepth-nyu-kitti"]["output"] == "metric"


def test_cli_models_pull_offline_is_a_clean_error(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["models", "pull", SMALL]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "cannot download 'depth-anything/Depth-Anything-V2-Small-hf'" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- single files
ROOT = Path(__file__).resolve().parents[2]
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET = ROOT.parent / "shared" / "models" / "face" / YUNET_FILE  # ../shared
needs_yunet = pytest.mark.skipif(
    not YUNET.is_file(), reason=f"YuNet weights not present at {YUNET} (../shared is absent)"
)


@needs_yunet
def test_cli_models_list_json_includes_single_file_models(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    (store / "yunet").mkdir()
    shutil.copy(YUNET, store / "yunet" / YUNET_FILE)
    assert cli.main(["models", "--models-dir", str(store), "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    yunet = rows["yunet"]
    assert yunet["present"] is True and yunet["path"] == str(store / "yunet" / YUNET_FILE)
    assert yunet["filename"] == YUNET_FILE and yunet["repo_id"] == "opencv/face_detection_yunet"
    assert yunet["licence"] == "MIT" and yunet["task"] == "face-detection"
    # the catalogue's size is the real file's (232,589 bytes)
    assert yunet["size_mb"] == pytest.approx(YUNET.stat().st_size / 1e6, abs=0.001)
    selfie = rows["mediapipe-selfie"]
    assert selfie["present"] is False and selfie["licence"] == "Apache-2.0"
    assert selfie["source_url"].startswith("https://")


def test_cli_models_pull_yunet_calls_the_hub_download(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import huggingface_hub

    calls: list[tuple[str, str, object]] = []

    def fake_download(repo_id: str, filename: str, **kwargs: object) -> str:
        calls.append((repo_id, filename, kwargs.get("local_dir")))
        out = Path(str(kwargs["local_dir"])) / filename
        out.write_bytes(b"onnx")
        return str(out)

    monkeypatch.setattr(models.pulling, "_hub_reachable", lambda: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    assert cli.main(["models", "--models-dir", str(store), "pull", "yunet"]) == 0
    assert calls == [("opencv/face_detection_yunet", YUNET_FILE, store / "yunet")]
    assert "yunet: ready in" in capsys.readouterr().out
    assert models.resolve_file("yunet").path == store / "yunet" / YUNET_FILE


def test_cli_models_pull_selfie_explains_instead_of_downloading(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["models", "--models-dir", str(store), "pull", "mediapipe-selfie"]) == (
        cli.EXIT_USAGE
    )
    err = capsys.readouterr().err
    assert "not on the Hugging Face hub" in err
    assert "https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite" in err
    assert str(store / "mediapipe-selfie" / "selfie_segmentation.tflite") in err
    assert "Traceback" not in err


def test_cli_render_with_yunet_missing_fails_fast_naming_the_pull_command(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    t0 = time.perf_counter()
    code = cli.main(
        [
            "render",
            str(ROOT / "resources" / "patches" / "faces.json"),
            "--set",
            "faces.backend=yunet",
            "--models-dir",
            str(store),
            "--output",
            f"export_faces={tmp_path / 'faces.json'}",
            "--output",
            f"export_nearest={tmp_path / 'nearest.png'}",
            "--no-disk-cache",
        ]
    )
    assert time.perf_counter() - t0 < 2.0
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED
    assert "gateway-studio models pull yunet" in err and str(store / YUNET_FILE) in err
    assert "Traceback" not in err and not (tmp_path / "faces.json").exists()
