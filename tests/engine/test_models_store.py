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

from gateway_studio import cli_models
from gateway_studio.engine import ModelMissingError, models

SMALL = "depth-anything-v2-small"
SMALL_HUB = "depth-anything/Depth-Anything-V2-Small-hf"


def fake_model_folder(folder: Path, weights: str = "model.safetensors") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "depth_anything"}))
    (folder / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 518}}))
    (folder / weights).write_bytes(b"\0" * 16)
    return folder


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
    monkeypatch.setattr(models.loading, "torch_dtype", lambda precision, device: precision)


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
    assert cli_models.cli(argparse.Namespace(models_verb="list", json=True)) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[SMALL]["present"] is True
    assert rows[SMALL]["path"] == str((store / SMALL).resolve())
    assert rows["depth-anything-v2-large"]["present"] is False
    assert rows["depth-anything-v2-large"]["licence"] == "CC-BY-NC-4.0"
    assert rows["depth-anything-v2-large"]["size_mb"] > 1000


def test_cli_list_table(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_models.cli(argparse.Namespace(models_verb="list", json=False)) == 0
    out = capsys.readouterr().out
    assert "depth-anything-v2-small" in out and "Apache-2.0" in out and "1.34 GB" in out


def test_pull_offline_fails_at_once(store: Path) -> None:
    t0 = time.perf_counter()
    with pytest.raises(models.ModelError, match="HF_HUB_OFFLINE"):
        cli_models.cli(argparse.Namespace(models_verb="pull", name=SMALL))
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(models.ModelError, match="unknown model"):
        models.pull("nonsense")


# ----------------------------------------------------------------------------- single files
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_REPO = "opencv/face_detection_yunet"
SELFIE_FILE = "selfie_segmentation.tflite"


def stand_in_file(path: Path, data: bytes = b"onnx stand-in") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_single_file_catalogue_entries() -> None:
    yunet = models.lookup("yunet")
    assert yunet is not None and yunet.single_file
    assert (yunet.repo_id, yunet.filename, yunet.licence) == (YUNET_REPO, YUNET_FILE, "MIT")
    assert 0.1 < yunet.size_mb < 0.3  # ~232 KB
    assert models.lookup(YUNET_REPO) is yunet
    selfie = models.lookup("mediapipe-selfie")
    assert selfie is not None and selfie.single_file and selfie.filename == SELFIE_FILE
    assert selfie.repo_id == ""  # not on the hub: it says where the file comes from instead
    assert selfie.source_url.startswith("https://") and selfie.source_url.endswith(SELFIE_FILE)
    assert models.lookup("") is None  # an empty repo_id matches nothing
    assert not models.lookup(SMALL).single_file  # type: ignore[union-attr]
    assert {m.name for m in models.single_file_models()} == {"yunet", "mediapipe-selfie"}
    # transformers task lists stay transformers-only (depth.estimate builds its choices so)
    assert "yunet" not in [m.name for m in models.known_models("depth-estimation")]


@pytest.mark.parametrize(
    "layout",
    [
        YUNET_FILE,
        f"yunet/{YUNET_FILE}",
        f"face/{YUNET_FILE}",
        f"opencv--face_detection_yunet/{YUNET_FILE}",
    ],
)
def test_resolve_file_from_models_folder(store: Path, layout: str) -> None:
    weights = stand_in_file(store / layout)
    for asked in ("yunet", YUNET_REPO):
        found = models.resolve_file(asked)
        assert found.path == weights.absolute() and found.info is models.lookup("yunet")
        assert str(store) in found.source
    assert models.resolve("yunet").path == weights.absolute()  # resolve dispatches to it


def test_resolve_file_prefers_the_plain_layout_and_never_another_name(store: Path) -> None:
    stand_in_file(store / "face" / "face_detection_yunet_2022mar.onnx")  # an older YuNet
    stand_in_file(store / "yunet" / "model.onnx")
    with pytest.raises(ModelMissingError):  # not a silent substitute
        models.resolve_file("yunet")
    plain = stand_in_file(store / YUNET_FILE)
    stand_in_file(store / "yunet" / YUNET_FILE)
    assert models.resolve_file("yunet").path == plain.absolute()


def _fake_hf_file(cache: Path, repo_id: str, filename: str) -> Path:
    """A cached file as huggingface_hub lays it out: a snapshot symlink to a blob."""
    org, repo = repo_id.split("/")
    base = cache / f"models--{org}--{repo}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    blob = stand_in_file(base / "blobs" / ("ab" * 32))
    link = base / "snapshots" / commit / filename
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)
    return link


def test_resolve_file_from_hugging_face_cache(tmp_path: Path, store: Path) -> None:
    link = _fake_hf_file(tmp_path / "hf-cache", YUNET_REPO, YUNET_FILE)
    found = models.resolve_file("yunet")
    assert found.source == "Hugging Face cache"
    # The snapshot path, not its blob: OpenCV picks the ONNX importer by the extension.
    assert found.path == link and found.path.suffix == ".onnx"


def test_resolve_file_from_hf_cache_inside_models_dir(store: Path) -> None:
    link = _fake_hf_file(store, YUNET_REPO, YUNET_FILE)
    assert models.resolve_file("yunet").path == link


def test_resolve_file_explicit_path(tmp_path: Path, store: Path) -> None:
    mine = stand_in_file(tmp_path / "elsewhere" / "my-yunet.onnx")
    found = models.resolve_file("yunet", mine)
    assert found.path == mine and found.source == f"file {mine}"
    stand_in_file(store / YUNET_FILE)  # an explicit path wins over the models folder
    assert models.resolve_file("yunet", str(mine)).path == mine
    with pytest.raises(ModelMissingError, match="no such file"):
        models.resolve_file("yunet", tmp_path / "missing.onnx")
    pickle = stand_in_file(tmp_path / "yunet.pt")
    with pytest.raises(ModelMissingError, match="pickle-based weights are never loaded"):
        models.resolve_file("yunet", pickle)
    with pytest.raises(ModelMissingError, match="unknown single-file model 'segformer-b0-ade'"):
        models.resolve_file("segformer-b0-ade")


def test_missing_single_file_is_fast_and_names_the_pull_command(
    tmp_path: Path, store: Path
) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelMissingError) as info:
        models.resolve("yunet")
    assert time.perf_counter() - t0 < 1.0
    message = str(info.value)
    assert "'yunet'" in message and YUNET_FILE in message
    assert "gateway-studio models pull yunet" in message
    assert str(store / YUNET_FILE) in message and str(store / "yunet" / YUNET_FILE) in message
    assert str(tmp_path / "hf-cache") in message
    assert models.locate("yunet") is None


def test_missing_selfie_says_where_to_get_it(store: Path) -> None:
    with pytest.raises(ModelMissingError) as info:
        models.resolve_file("mediapipe-selfie")
    message = str(info.value)
    assert str(store / "mediapipe" / SELFIE_FILE) in message
    assert "not on the Hugging Face hub" in message
    assert models.lookup("mediapipe-selfie").source_url in message  # type: ignore[union-attr]
    assert str(store / "mediapipe-selfie" / SELFIE_FILE) in message  # where to put it
    assert "Hugging Face cache" not in message  # it is never there: not looked for


def test_load_model_refuses_a_single_file_model(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_dtype(monkeypatch)
    stand_in_file(store / YUNET_FILE)
    with pytest.raises(models.ModelError, match="not a transformers model"):
        models.load_model("yunet", device="cpu")


def test_cli_list_shows_single_files(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = stand_in_file(store / "face" / YUNET_FILE)
    assert cli_models.cli(argparse.Namespace(models_verb="list", json=True)) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["yunet"]["present"] is True and rows["yunet"]["path"] == str(weights.absolute())
    assert rows["yunet"]["filename"] == YUNET_FILE and rows["yunet"]["licence"] == "MIT"
    assert rows["yunet"]["size_mb"] == pytest.approx(0.232)
    assert rows["mediapipe-selfie"]["present"] is False
    assert rows["mediapipe-selfie"]["source_url"].endswith(SELFIE_FILE)
    assert rows[SMALL]["filename"] is None
    assert cli_models.cli(argparse.Namespace(models_verb="list", json=False)) == 0
    table = capsys.readouterr().out
    yunet_line = next(line for line in table.splitlines() if line.startswith("yunet "))
    assert "232 KB" in yunet_line and "MIT" in yunet_line and str(weights) in yunet_line


class FakeDownload:
    """Stands in for ``huggingface_hub.hf_hub_download``: records the call, writes a file."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.calls: list[tuple[str, str, Path | None]] = []

    def __call__(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        local_dir = kwargs.get("local_dir")
        self.calls.append((repo_id, filename, None if local_dir is None else Path(local_dir)))
        folder = Path(local_dir) if local_dir is not None else self.cache / "snap"
        return str(stand_in_file(folder / filename))


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeDownload:
    import huggingface_hub

    fake = FakeDownload(tmp_path / "hf-cache")
    monkeypatch.setattr(models.pulling, "_hub_reachable", lambda: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    return fake


def test_pull_yunet_downloads_the_one_file_into_the_models_folder(
    store: Path, online: FakeDownload, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_models.cli(argparse.Namespace(models_verb="pull", name="yunet")) == 0
    assert online.calls == [(YUNET_REPO, YUNET_FILE, store / "yunet")]
    assert str(store / "yunet" / YUNET_FILE) in capsys.readouterr().out
    assert models.resolve("yunet").path == (store / "yunet" / YUNET_FILE).absolute()
    target = store.parent / "other"
    got = models.pull(YUNET_REPO, target=target)  # the hub id names it too
    assert got == target / "yunet" / YUNET_FILE and online.calls[-1][2] == target / "yunet"


def test_pull_yunet_without_models_folder_goes_to_the_hf_cache(
    store: Path, online: FakeDownload, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(models.MODELS_ENV)
    models.pull_file("yunet")
    assert online.calls == [(YUNET_REPO, YUNET_FILE, None)]


def test_pull_refuses_what_it_cannot_fetch(
    store: Path, online: FakeDownload, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(models.ModelError) as info:
        models.pull("mediapipe-selfie")
    message = str(info.value)
    assert "not on the Hugging Face hub" in message and "storage.googleapis.com" in message
    assert str(store / "mediapipe-selfie" / SELFIE_FILE) in message
    assert online.calls == []  # nothing downloaded from anywhere
    with pytest.raises(models.ModelError, match="unknown single-file model"):
        models.pull_file(SMALL)


def test_pull_single_file_offline_fails_at_once(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def never(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("must not download offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", never)
    t0 = time.perf_counter()
    with pytest.raises(models.ModelError, match="HF_HUB_OFFLINE") as info:
        models.pull("yunet")
    assert time.perf_counter() - t0 < 1.0
    assert f"{YUNET_REPO}/{YUNET_FILE}" in str(info.value)


def test_pull_reports_a_failed_download(
    store: Path, online: FakeDownload, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def broken(*args: Any, **kwargs: Any) -> str:
        raise OSError("connection reset")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", broken)
    with pytest.raises(
        models.ModelError, match=r"downloading .* failed: OSError: connection reset"
    ):
        models.pull("yunet")


def test_identity_follows_the_weights_it_resolves_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache keys include the model's identity: replaced weights never serve stale slots."""
    import os
    import time

    from gateway_studio.engine import models

    folder = tmp_path / "mymodel"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"x" * 10)
    monkeypatch.setattr(models.identities, "_IDENTITY_TTL", 0.0)
    first = models.identity(str(folder))
    assert first.startswith(str(folder)) and "model.safetensors:10:" in first
    assert models.identity(str(folder)) == first
    (folder / "model.safetensors").write_bytes(b"y" * 12)
    os.utime(folder / "model.safetensors", (time.time() + 5, time.time() + 5))
    assert models.identity(str(folder)) != first
    assert models.identity(str(tmp_path / "nothing-here")).startswith("missing:")
