"""The model store: resolving names to local files, the missing-model error, the memory
cache. No torch here: folders hold stand-in files and a fake loader replaces transformers
(the real loading path is exercised in tests/nodes/test_models.py)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gateway_studio.engine import ModelMissingError, models

SMALL = "depth-anything-v2-small"
SMALL_HUB = "depth-anything/Depth-Anything-V2-Small-hf"


def fake_model_folder(folder: Path, weights: str = "model.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "depth_anything"}))
    (folder / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 518}}))
    (folder / weights).write_bytes(b"\0" * 16)
    return folder


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder and an empty Hugging Face cache, both in tmp."""
    from huggingface_hub import constants

    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv(models.MODELS_ENV, str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv(models.DEVICE_ENV, raising=False)
    models.clear_cache()
    yield root
    models.clear_cache()


class FakeModule:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.device = "?"

    def to(self, device: str) -> FakeModule:
        self.device = device
        return self

    def eval(self) -> FakeModule:
        return self


def test_catalogue_names_and_hub_ids() -> None:
    names = [m.name for m in models.known_models("depth-estimation")]
    assert names[:3] == [SMALL, "depth-anything-v2-base", "depth-anything-v2-large"]
    assert models.lookup(SMALL_HUB.upper()) is models.lookup(SMALL)
    assert models.lookup("zoedepth-nyu-kitti").output == "metric"  # type: ignore[union-attr]
    assert models.lookup(SMALL).output == "relative-inverse"  # type: ignore[union-attr]
    assert models.lookup("segformer-b0-ade").task == "semantic-segmentation"  # type: ignore[union-attr]
    assert models.lookup("no-such-model") is None


@pytest.mark.parametrize(
    "folder_name",
    [SMALL, "depth-anything--Depth-Anything-V2-Small-hf", "Depth-Anything-V2-Small-hf"],
)
@pytest.mark.parametrize("asked", [SMALL, SMALL_HUB])
def test_resolve_from_models_dir(store: Path, folder_name: str, asked: str) -> None:
    folder = fake_model_folder(store / folder_name)
    found = models.resolve(asked)
    assert found.path == folder.resolve()
    assert found.info is models.lookup(SMALL)
    assert str(folder) in found.source


def test_resolve_direct_folder(tmp_path: Path, store: Path) -> None:
    folder = fake_model_folder(tmp_path / "elsewhere" / "my-depth")
    assert models.resolve(str(folder)).path == folder.resolve()
    assert models.resolve(str(folder)).info is None


def _fake_hf_cache(cache: Path, repo_id: str) -> Path:
    org, repo = repo_id.split("/")
    base = cache / f"models--{org}--{repo}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    return fake_model_folder(base / "snapshots" / commit)


def test_resolve_from_hugging_face_cache(tmp_path: Path, store: Path) -> None:
    snapshot = _fake_hf_cache(tmp_path / "hf-cache", SMALL_HUB)
    found = models.resolve(SMALL)
    assert found.path == snapshot
    assert found.source == "Hugging Face cache"


def test_resolve_from_hf_cache_inside_models_dir(store: Path) -> None:
    snapshot = _fake_hf_cache(store, SMALL_HUB)
    assert models.resolve(SMALL_HUB).path == snapshot


def test_models_dir_wins_over_hf_cache(tmp_path: Path, store: Path) -> None:
    _fake_hf_cache(tmp_path / "hf-cache", SMALL_HUB)
    mine = fake_model_folder(store / SMALL)
    assert models.resolve(SMALL).path == mine.resolve()


def test_missing_model_error_is_fast_and_says_everything(tmp_path: Path, store: Path) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelMissingError) as info:
        models.resolve("depth-anything-v2-large")
    assert time.perf_counter() - t0 < 1.0
    message = str(info.value)
    assert "'depth-anything-v2-large'" in message
    assert "gateway-studio models pull depth-anything-v2-large" in message
    assert str(store / "depth-anything-v2-large") in message
    assert str(store / "depth-anything--Depth-Anything-V2-Large-hf") in message
    assert str(tmp_path / "hf-cache") in message  # the Hugging Face cache it looked in


def test_missing_uncatalogued_hub_id_names_it(store: Path) -> None:
    with pytest.raises(ModelMissingError, match="gateway-studio models pull someone/their-dpt"):
        models.resolve("someone/their-dpt")


def test_pickle_only_folder_is_refused(tmp_path: Path, store: Path) -> None:
    folder = fake_model_folder(tmp_path / "old-model", weights="pytorch_model.bin")
    with pytest.raises(ModelMissingError, match="safetensors only"):
        models.resolve(str(folder))
    fake_model_folder(store / SMALL, weights="pytorch_model.bin")
    with pytest.raises(ModelMissingError, match="pickle-based"):
        models.resolve(SMALL)


def test_unknown_name_and_missing_folder(store: Path) -> None:
    with pytest.raises(ModelMissingError, match="unknown model 'depthy'"):
        models.resolve("depthy")
    with pytest.raises(ModelMissingError, match="no such folder"):
        models.resolve("./not/there")


def _stub_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch_dtype needs torch; the cache logic does not.
    monkeypatch.setattr(models, "torch_dtype", lambda precision, device: precision)


def test_memory_cache_returns_the_same_object(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stub_dtype(monkeypatch)
    fake_model_folder(store / SMALL)
    calls: list[Path] = []

    def loader(path: Path, device: str, dtype: Any) -> FakeModule:
        calls.append(path)
        return FakeModule(path)

    first = models.load_model(SMALL, device="cpu", loader=loader)
    again = models.load_model(SMALL_HUB, device="cpu", loader=loader)  # same files
    assert again is first and len(calls) == 1
    assert first.model.device == "cpu"
    assert first.preprocessor == {"size": {"height": 518}}
    assert first.output == "relative-inverse"
    other = models.load_model(SMALL, device="cpu", precision="bf16", loader=loader)
    assert other is not first and len(calls) == 2
    # Replaced weights are a different model: loaded again.
    (store / SMALL / "model.safetensors").write_bytes(b"\1" * 32)
    assert models.load_model(SMALL, device="cpu", loader=loader) is not first


def test_memory_cache_loads_once_across_threads(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_dtype(monkeypatch)
    fake_model_folder(store / SMALL)
    calls: list[int] = []

    def slow_loader(path: Path, device: str, dtype: Any) -> FakeModule:
        calls.append(1)
        time.sleep(0.2)
        return FakeModule(path)

    got: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: got.append(models.load_model(SMALL, device="cpu", loader=slow_loader))
        )
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(got) == 4 and all(g is got[0] for g in got)


def test_missing_model_fails_before_loading(store: Path) -> None:
    def loader(path: Path, device: str, dtype: Any) -> FakeModule:
        raise AssertionError("must not be called")

    with pytest.raises(ModelMissingError):
        models.load_model(SMALL, device="cpu", loader=loader)


def test_device_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.DEVICE_ENV, "cpu")
    assert models.pick_device() == "cpu"
    assert models.pick_device("CPU") == "cpu"
    with pytest.raises(models.ModelError, match="unknown device 'tpu'"):
        models.pick_device("tpu")


def test_cli_list_json_shows_presence(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_model_folder(store / SMALL)
    assert models.cli(argparse.Namespace(models_verb="list", json=True)) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[SMALL]["present"] is True
    assert rows[SMALL]["path"] == str((store / SMALL).resolve())
    assert rows["depth-anything-v2-large"]["present"] is False
    assert rows["depth-anything-v2-large"]["licence"] == "CC-BY-NC-4.0"
    assert rows["depth-anything-v2-large"]["size_mb"] > 1000


def test_cli_list_table(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert models.cli(argparse.Namespace(models_verb="list", json=False)) == 0
    out = capsys.readouterr().out
    assert "depth-anything-v2-small" in out and "Apache-2.0" in out and "1.34 GB" in out


def test_pull_offline_fails_at_once(store: Path) -> None:
    t0 = time.perf_counter()
    with pytest.raises(models.ModelError, match="HF_HUB_OFFLINE"):
        models.cli(argparse.Namespace(models_verb="pull", name=SMALL))
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(models.ModelError, match="unknown model"):
        models.pull("nonsense")
