"""The model store: which models we know, where their weights are, and loading them once.

No Qt here, and no torch/transformers at import time (they load inside ``load_model``),
so resolving a name — and failing with a clear message when the weights are missing — is
instant.

Names
-----
A model is named by any of:

* a catalogue name, e.g. ``"depth-anything-v2-small"`` (see ``CATALOGUE``);
* a Hugging Face hub id, e.g. ``"depth-anything/Depth-Anything-V2-Small-hf"`` (catalogued
  or not: any transformers model of the right task works);
* a local folder holding ``config.json`` + ``*.safetensors`` (absolute, ``~/…`` or
  ``./…``).

Where weights are looked for (``resolve``), in order
----------------------------------------------------
1. a folder path given as the name itself;
2. every folder in ``$GATEWAY_STUDIO_MODELS`` (``os.pathsep``-separated; the CLI's
   ``--models-dir`` sets it): ``<dir>/<name>``, ``<dir>/<org>--<repo>``, ``<dir>/<repo>``,
   and a Hugging Face cache laid out inside ``<dir>`` (``<dir>/models--org--repo``);
3. the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE`` conventions), read with
   ``local_files_only=True`` — the store never touches the network while resolving or
   loading. Downloading is a separate, explicit step: ``gateway-studio models pull NAME``.

Missing weights raise ``ModelMissingError`` at once; its message names the model, every
place looked in, and the exact pull command. There is never a silent substitute model.

Loading (``load_model``)
------------------------
``load_model(name, task="depth-estimation", device=None, precision="fp32")`` returns a
``LoadedModel`` (the ``torch.nn.Module`` in eval mode on its device, the folder it came
from, its ``config.json`` and ``preprocessor_config.json`` as dicts, the catalogue entry
if any). Weights load with ``use_safetensors=True`` and never ``trust_remote_code``; a
folder with only pickle-based ``.bin`` weights is refused. Loaded models are cached in
memory per (folder + weights fingerprint, task, device, precision): a second node, or a
re-run, gets the same object. The cache is thread-safe (two threads asking for the same
model load it once) and keeps the ``MAX_LOADED`` most recently used models.

Devices: ``pick_device()`` takes an explicit request, else ``$GATEWAY_STUDIO_DEVICE``
(the CLI's ``--device``), else CUDA, then Apple MPS, then CPU.

For other model families (segmentation, …) use ``task=`` with one of ``TASKS`` or pass a
``loader`` callable; add catalogue entries with ``register_model``.

Single-file models
------------------
Some nodes run one ONNX / TFLite file through OpenCV (``yunet`` for ``faces.detect``,
``mediapipe-selfie`` for ``segment.semantic``). Their catalogue entries carry a
``filename``; ``resolve_file(name, path=None)`` finds that file: an explicit path, else
``<dir>/<filename>``, ``<dir>/<name>/<filename>`` (and the entry's ``folders``) in every
``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face cache (``try_to_load_from_cache``:
no network). ONNX and TFLite are data, not pickles: nothing runs when they are read; any
other suffix is refused. ``models list`` shows them; ``models pull yunet`` downloads the one
file with ``hf_hub_download``. A file that is not on the hub (``repo_id`` "") has a
``source_url``: ``pull`` and the missing-file error say where to fetch it by hand rather
than downloading from elsewhere. ``resolve`` of such a name returns the file, and
``load_model`` refuses it (it is not a transformers model).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import GatewayError, ModelMissingError

Task = Literal[
    "depth-estimation",
    "semantic-segmentation",
    "universal-segmentation",
    # Single-file models (see ``resolve_file``), run by OpenCV rather than transformers.
    "face-detection",
    "person-segmentation",
]
Precision = Literal["fp32", "bf16", "fp16"]
OutputKind = Literal["relative-inverse", "metric", "labels", "boxes"]

#: task → the transformers Auto class that loads it.
TASKS: dict[str, str] = {
    "depth-estimation": "AutoModelForDepthEstimation",
    "semantic-segmentation": "AutoModelForSemanticSegmentation",
    "universal-segmentation": "AutoModelForUniversalSegmentation",
}

MODELS_ENV = "GATEWAY_STUDIO_MODELS"
DEVICE_ENV = "GATEWAY_STUDIO_DEVICE"
#: How many loaded models stay in memory (least recently used are dropped).
MAX_LOADED = 4
#: Only these files are downloaded by ``pull``: configs, safetensors weights, vocabularies.
PULL_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "README.md")


class ModelError(GatewayError):
    """A model exists but cannot be used (wrong task, pickle-only weights, bad device)."""


# ----------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class ModelInfo:
    """A model we know by name. ``size_mb`` is the approximate download.

    A *single-file* model (``filename`` set: one ONNX / TFLite file run by OpenCV, not a
    transformers folder) resolves with ``resolve_file``; ``repo_id`` is then the hub
    repository holding ``filename``, or "" when the file is not on the hub and
    ``source_url`` says where to get it.
    """

    name: str
    repo_id: str
    task: Task
    size_mb: float
    licence: str
    #: What the raw output means: relative inverse depth (larger = nearer), metric depth
    #: in metres (larger = farther), class labels, or boxes (detectors).
    output: OutputKind
    label: str
    description: str = ""
    #: Single-file models: the weights file's name (in the hub repo and on disk).
    filename: str = ""
    #: Where the file comes from when it is not on the hub (or its upstream home).
    source_url: str = ""
    #: Extra sub-folders of a models folder the file may sit in (e.g. ``face/``).
    folders: tuple[str, ...] = ()

    @property
    def single_file(self) -> bool:
        return bool(self.filename)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repo_id": self.repo_id,
            "task": self.task,
            "size_mb": self.size_mb,
            "licence": self.licence,
            "output": self.output,
            "label": self.label,
            "description": self.description,
            "filename": self.filename or None,
            "source_url": self.source_url or None,
        }


CATALOGUE: list[ModelInfo] = [
    ModelInfo(
        "depth-anything-v2-small",
        "depth-anything/Depth-Anything-V2-Small-hf",
        "depth-estimation",
        99,
        "Apache-2.0",
        "relative-inverse",
        "Depth-Anything-V2 Small",
        "ViT-S/14 DPT, 24.8 M params; fast, the default",
    ),
    ModelInfo(
        "depth-anything-v2-base",
        "depth-anything/Depth-Anything-V2-Base-hf",
        "depth-estimation",
        390,
        "CC-BY-NC-4.0",
        "relative-inverse",
        "Depth-Anything-V2 Base",
        "ViT-B/14 DPT, 97.5 M params; non-commercial licence",
    ),
    ModelInfo(
        "depth-anything-v2-large",
        "depth-anything/Depth-Anything-V2-Large-hf",
        "depth-estimation",
        1340,
        "CC-BY-NC-4.0",
        "relative-inverse",
        "Depth-Anything-V2 Large",
        "ViT-L/14 DPT, 335 M params; non-commercial licence",
    ),
    ModelInfo(
        "dpt-hybrid-midas",
        "Intel/dpt-hybrid-midas",
        "depth-estimation",
        490,
        "Apache-2.0",
        "relative-inverse",
        "DPT-Hybrid (MiDaS 3.0)",
        "ViT-hybrid DPT trained on MIX-6; relative inverse depth",
    ),
    ModelInfo(
        "zoedepth-nyu-kitti",
        "Intel/zoedepth-nyu-kitti",
        "depth-estimation",
        1380,
        "MIT",
        "metric",
        "ZoeDepth (NYU + KITTI)",
        "metric depth in metres (indoor + outdoor heads)",
    ),
    ModelInfo(
        "segformer-b0-ade",
        "nvidia/segformer-b0-finetuned-ade-512-512",
        "semantic-segmentation",
        15,
        "NVIDIA (non-commercial)",
        "labels",
        "SegFormer-B0 (ADE20K)",
        "150 ADE20K classes at 512x512; 3.75 M params",
    ),
    # Single-file models (ONNX / TFLite: data, no code runs on load), run by OpenCV.
    ModelInfo(
        "yunet",
        "opencv/face_detection_yunet",
        "face-detection",
        0.232,
        "MIT",
        "boxes",
        "YuNet face detector",
        "OpenCV model zoo; boxes, scores, five landmarks (faces.detect backend 'yunet')",
        filename="face_detection_yunet_2023mar.onnx",
        source_url="https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
        folders=("face",),
    ),
    ModelInfo(
        "mediapipe-selfie",
        "",  # not on the Hugging Face hub: MediaPipe serves it from its own bucket
        "person-segmentation",
        0.249,
        "Apache-2.0",
        "labels",
        "MediaPipe selfie segmentation",
        "person vs background at 256x256 (segment.semantic model 'mediapipe-selfie')",
        filename="selfie_segmentation.tflite",
        source_url="https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite",
        folders=("mediapipe",),
    ),
]


def register_model(info: ModelInfo) -> None:
    """Add (or replace, by name) a catalogue entry, e.g. from a node pack."""
    for i, known in enumerate(CATALOGUE):
        if known.name == info.name:
            CATALOGUE[i] = info
            return
    CATALOGUE.append(info)


def known_models(task: str | None = None) -> list[ModelInfo]:
    return [m for m in CATALOGUE if task is None or m.task == task]


def lookup(name: str) -> ModelInfo | None:
    """The catalogue entry for a catalogue name or hub id (case-insensitive), else None."""
    wanted = name.strip().lower()
    for m in CATALOGUE:
        if wanted and wanted in (m.name.lower(), m.repo_id.lower()):  # repo_id may be ""
            return m
    return None


def pull_command(name: str) -> str:
    info = lookup(name)
    return f"gateway-studio models pull {info.name if info else name}"


# ----------------------------------------------------------------------------- resolving
@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    info: ModelInfo | None
    #: Human-readable description of where it was found.
    source: str


def looks_like_path(name: str) -> bool:
    """A folder path rather than a hub id ("org/name") or a catalogue name."""
    return (
        name.startswith(("/", "~", "."))
        or (os.sep != "/" and os.sep in name)
        or name.count("/") > 1
        or (len(name) > 1 and name[1] == ":")  # C:\\...
    )


def models_dirs() -> list[Path]:
    """The user's model folders from ``$GATEWAY_STUDIO_MODELS`` (may be empty)."""
    raw = os.environ.get(MODELS_ENV, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]


def _folder_problem(folder: Path) -> str | None:
    """None if ``folder`` holds a loadable model, else why not."""
    if not folder.is_dir():
        return "no such folder"
    if not (folder / "config.json").is_file():
        return "no config.json"
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt*")):
            return "only pickle-based .bin/.pt weights, which are never loaded (safetensors only)"
        return "no .safetensors weights"
    return None


def _hf_snapshot(repo_id: str, cache_dir: Path | None) -> Path | None:
    """The cached snapshot folder of ``repo_id``, never touching the network."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            repo_id, cache_dir=str(cache_dir) if cache_dir else None, local_files_only=True
        )
    except Exception:  # LocalEntryNotFoundError, HFValidationError, …: not cached
        return None
    return Path(str(path))


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def resolve(name: str) -> ResolvedModel:
    """Find local files for a model name, hub id or folder; ``ModelMissingError`` if none."""
    name = name.strip()
    if not name:
        raise ModelMissingError("no model named: choose a model name, hub id or folder")
    info = lookup(name)
    if info is not None and info.single_file:  # one ONNX/TFLite file, not a folder
        return resolve_file(info.name)
    looked: list[str] = []

    def found(path: Path, source: str) -> ResolvedModel:
        return ResolvedModel(name, path, info, source)

    # 1. a folder named directly
    direct = Path(name).expanduser()
    if info is None and (looks_like_path(name) or direct.is_dir()):
        problem = _folder_problem(direct)
        if problem is None:
            return found(direct.resolve(), f"folder {direct}")
        raise ModelMissingError(
            f"model folder '{name}' cannot be used: {problem}. A model folder holds "
            "config.json, preprocessor_config.json and *.safetensors weights "
            "(as written by save_pretrained(..., safe_serialization=True))."
        )

    repo_id = info.repo_id if info else name
    is_hub_id = repo_id.count("/") == 1 and all(repo_id.split("/"))
    if info is None and not is_hub_id:
        known = ", ".join(m.name for m in CATALOGUE)
        raise ModelMissingError(
            f"unknown model '{name}': not a catalogue name ({known}), not a hub id of the "
            "form org/name, and not a folder"
        )
    org, _, repo = repo_id.partition("/")

    # 2. the user's model folders
    for root in models_dirs():
        candidates = [root / name, root / f"{org}--{repo}", root / repo]
        if info is not None:
            candidates.insert(1, root / info.name)
        seen: set[Path] = set()
        for cand in candidates:
            if cand in seen:
                continue
            seen.add(cand)
            problem = _folder_problem(cand)
            if problem is None:
                return found(cand.resolve(), f"models folder {cand}")
            looked.append(f"{cand} ({problem})")
        snap = _hf_snapshot(repo_id, root)
        if snap is not None and _folder_problem(snap) is None:
            return found(snap, f"Hugging Face cache in {root}")
        looked.append(f"{root}/models--{org}--{repo} (not in this cache)")

    # 3. the Hugging Face cache
    snap = _hf_snapshot(repo_id, None)
    if snap is not None:
        problem = _folder_problem(snap)
        if problem is None:
            return found(snap, "Hugging Face cache")
        looked.append(f"Hugging Face cache {snap} ({problem})")
    else:
        looked.append(f"Hugging Face cache {_hf_cache_dir()} (not downloaded)")

    label = f"'{name}'" if info is None or name == info.name else f"'{name}' ({info.name})"
    where = "\n".join(f"  - {place}" for place in looked)
    hint = "" if models_dirs() else f" (or set {MODELS_ENV} / --models-dir to a folder of models)"
    raise ModelMissingError(
        f"model {label} is not available locally. Looked in:\n{where}\n"
        f"Get it on a connected machine with: {pull_command(name)}{hint}"
    )


def locate(name: str) -> ResolvedModel | None:
    """``resolve`` without the error: None when the weights are not present."""
    try:
        return resolve(name)
    except ModelMissingError:
        return None


# ----------------------------------------------------------------------------- identity
_IDENTITY_TTL = 2.0  # seconds: a knob drag must not re-resolve a model on every step
_identities: dict[tuple[str, ...], tuple[float, str]] = {}
_identities_lock = threading.Lock()


def _stat_stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def identity(name: str, *, file: Path | None = None) -> str:
    """What ``name`` resolves to right now, for cache keys: where the weights are and a
    stamp (names, sizes, mtimes) of the weights and configs. Replacing a model's files,
    or pointing a models folder elsewhere, changes it, so a cached Depth/Segments made
    by other weights is never served. Weights are not hashed byte by byte (GBs); the
    stamp is what the in-memory model cache trusts too. ``"missing:<name>"`` when the
    weights are absent (the node then fails with ModelMissingError)."""
    env = (
        os.environ.get(MODELS_ENV, ""),
        os.environ.get("HF_HOME", ""),
        os.environ.get("HF_HUB_CACHE", ""),
    )
    memo_key = (name, str(file or ""), *env)
    now = time.monotonic()
    with _identities_lock:
        hit = _identities.get(memo_key)
    if hit is not None and now - hit[0] < _IDENTITY_TTL:
        return hit[1]
    try:
        info = lookup(name)
        if file is not None or (info is not None and info.single_file):
            found = resolve_file(name, file)
            value = f"{found.path}|{_stat_stamp(found.path)}"
        else:
            folder = resolve(name).path
            stamps = [_fingerprint(folder)]
            stamps += [
                _stat_stamp(folder / cfg)
                for cfg in ("config.json", "preprocessor_config.json")
                if (folder / cfg).is_file()
            ]
            value = f"{folder}|{';'.join(stamps)}"
    except (GatewayError, OSError):
        value = f"missing:{name}"
    with _identities_lock:
        _identities[memo_key] = (now, value)
    return value


# ----------------------------------------------------------------------------- single files
#: The single-file weights the store hands out. ONNX (protobuf) and TFLite (flatbuffer)
#: are plain data that OpenCV parses: nothing in them runs on load, unlike pickled .pt/.bin.
SAFE_FILE_SUFFIXES = (".onnx", ".tflite")


def single_file_models() -> list[ModelInfo]:
    """The catalogue's single-file models (one ONNX / TFLite file each)."""
    return [m for m in CATALOGUE if m.single_file]


def file_candidates(info: ModelInfo, root: Path) -> list[Path]:
    """Where a single-file model may sit in the models folder ``root``, in search order."""
    subfolders = [info.name, *info.folders]
    if info.repo_id:
        org, _, repo = info.repo_id.partition("/")
        subfolders += [f"{org}--{repo}", info.repo_id, repo]
    out = [root / info.filename]
    for sub in subfolders:
        cand = root / sub / info.filename
        if cand not in out:
            out.append(cand)
    return out


def _file_problem(path: Path) -> str | None:
    """None if ``path`` is a weights file the store hands out, else why not."""
    if not path.is_file():
        return "no such file"
    if path.suffix.lower() not in SAFE_FILE_SUFFIXES:
        return (
            f"not an ONNX/TFLite file ({', '.join(SAFE_FILE_SUFFIXES)}); pickle-based "
            "weights are never loaded"
        )
    return None


def _cached_file(repo_id: str, filename: str, cache_dir: Path | None) -> Path | None:
    """``filename`` of ``repo_id`` in a Hugging Face cache, never touching the network."""
    from huggingface_hub import try_to_load_from_cache

    try:
        hit = try_to_load_from_cache(
            repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None
        )
    except Exception:  # HFValidationError, an unreadable cache, …: not cached
        return None
    # A str is the snapshot path (None / _CACHED_NO_EXIST: not there). Keep that path, a
    # symlink named like the file: its blob has no extension, and OpenCV picks the
    # importer by the extension.
    return Path(hit) if isinstance(hit, str) and Path(hit).is_file() else None


def file_hint(info: ModelInfo) -> str:
    """How to get a single-file model: the pull command, or where to fetch it by hand."""
    if info.repo_id:
        return f"Get it on a connected machine with: {pull_command(info.name)}"
    dirs = models_dirs()
    dest = str(dirs[0] / info.name / info.filename) if dirs else f"<folder>/{info.filename}"
    return (
        f"It is not on the Hugging Face hub, so `{pull_command(info.name)}` cannot fetch it: "
        f"download {info.filename} ({info.licence}, {_size(info.size_mb)}) from "
        f"{info.source_url} on a connected machine and put it at {dest} "
        f"(a models folder: {MODELS_ENV} / --models-dir)"
    )


def resolve_file(name: str, path: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Find a single-file model's weights; ``ModelMissingError`` at once (offline) if none.

    ``path`` (e.g. a node's explicit weights param) is used as given and must be an
    existing ``.onnx`` / ``.tflite`` file. Otherwise, in order: each ``$GATEWAY_STUDIO_MODELS``
    folder (``<dir>/<filename>``, ``<dir>/<name>/<filename>``, the entry's ``folders``
    and hub-style sub-folders — see ``file_candidates`` — then a Hugging Face cache laid
    out inside ``<dir>``), then the Hugging Face cache. Only the catalogued file name is
    accepted: never another model in its place.
    """
    info = lookup(name)
    if info is None or not info.single_file:
        known = ", ".join(m.name for m in single_file_models())
        raise ModelMissingError(f"unknown single-file model '{name}': one of {known}")
    if path is not None and str(path):
        given = Path(path).expanduser()
        problem = _file_problem(given)
        if problem is not None:
            raise ModelMissingError(f"{info.label} weights {given}: {problem}")
        return ResolvedModel(info.name, given.absolute(), info, f"file {given}")
    looked: list[str] = []
    for root in models_dirs():
        for cand in file_candidates(info, root):
            if cand.is_file():
                return ResolvedModel(info.name, cand.absolute(), info, f"models folder {root}")
            looked.append(str(cand))
        if info.repo_id:
            hit = _cached_file(info.repo_id, info.filename, root)
            if hit is not None:
                return ResolvedModel(info.name, hit, info, f"Hugging Face cache in {root}")
            org, _, repo = info.repo_id.partition("/")
            looked.append(f"{root / f'models--{org}--{repo}'} (not in this cache)")
    if info.repo_id:
        hit = _cached_file(info.repo_id, info.filename, None)
        if hit is not None:
            return ResolvedModel(info.name, hit, info, "Hugging Face cache")
        looked.append(f"Hugging Face cache {_hf_cache_dir()} ({info.repo_id}: not downloaded)")
    if not models_dirs():
        looked.append(f"no models folder ({MODELS_ENV} / --models-dir is not set)")
    where = "\n".join(f"  - {place}" for place in looked)
    raise ModelMissingError(
        f"model '{info.name}' ({info.filename}) is not available locally. Looked in:\n"
        f"{where}\n{file_hint(info)}"
    )


# ----------------------------------------------------------------------------- devices
def pick_device(requested: str | None = None) -> str:
    """ "cuda", "mps" or "cpu" (or "cuda:N"): request > $GATEWAY_STUDIO_DEVICE > auto."""
    choice = (requested or os.environ.get(DEVICE_ENV, "") or "auto").strip().lower()
    kind = choice.split(":", 1)[0]
    if kind == "cpu":
        return "cpu"
    if kind not in ("auto", "cuda", "mps"):
        raise ModelError(f"unknown device '{choice}': use auto, cpu, cuda, cuda:N or mps")
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and bool(mps.is_available())
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device '{choice}' requested but CUDA is not available here")
    if kind == "mps" and not has_mps:
        raise ModelError("device 'mps' requested but Apple MPS is not available here")
    return choice


def torch_dtype(precision: str, device: str) -> Any:
    """The torch dtype for a precision on a device; ``ModelError`` where unsupported."""
    import torch

    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
            raise ModelError(f"bf16 is not supported on {device}; use fp32")
        return torch.bfloat16
    if precision == "fp16":
        if device == "cpu":
            raise ModelError("fp16 is not supported on the CPU; use bf16 or fp32")
        return torch.float16
    raise ModelError(f"unknown precision '{precision}': use fp32, bf16 or fp16")


# ----------------------------------------------------------------------------- loading
@dataclass(eq=False)
class LoadedModel:
    """A model ready to run. ``model`` is a ``torch.nn.Module`` in eval mode on ``device``."""

    name: str
    path: Path
    info: ModelInfo | None
    task: str
    device: str
    precision: str
    model: Any
    dtype: Any
    config: dict[str, Any] = field(default_factory=dict)
    #: ``preprocessor_config.json`` of the folder ({} if absent): sizes, mean/std, …
    preprocessor: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def output(self) -> OutputKind | None:
        """What the raw output means; from the catalogue, else guessed from the config."""
        if self.info is not None:
            return self.info.output
        if self.task != "depth-estimation":
            return "labels"
        metric = self.config.get("model_type") in ("zoedepth", "depth_pro") or (
            self.config.get("depth_estimation_type") == "metric"
        )
        return "metric" if metric else "relative-inverse"


Loader = Callable[[Path, str, Any], Any]

_cache: OrderedDict[tuple[str, ...], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()
_key_locks: dict[tuple[str, ...], threading.Lock] = {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fingerprint(folder: Path) -> str:
    """Weights' names, sizes and mtimes: a replaced model folder is loaded again."""
    parts = []
    for f in sorted(folder.glob("*.safetensors")):
        st = f.stat()
        parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


def _transformers_loader(task: str) -> Loader:
    def load(path: Path, device: str, dtype: Any) -> Any:
        import transformers
        from transformers.utils import logging as hf_logging

        # Node progress goes through ctx.progress; keep stderr free of weight-loading bars.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        auto = getattr(transformers, TASKS[task])
        try:
            return auto.from_pretrained(
                str(path),
                use_safetensors=True,
                trust_remote_code=False,
                local_files_only=True,
                dtype=dtype,
            )
        except ValueError as exc:  # "Unrecognized configuration class …"
            raise ModelError(f"{path} is not a {task} model transformers knows: {exc}") from None

    return load


def load_model(
    name: str,
    *,
    task: str = "depth-estimation",
    device: str | None = None,
    precision: str = "fp32",
    loader: Loader | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Resolve, load (once) and return a model; see the module docstring.

    ``loader(path, device, torch_dtype)`` replaces the transformers Auto class for models
    it does not know; it must load from local files only. ``progress`` receives short
    messages ("loading model …") while a load is under way.
    """
    import time

    if loader is None and task not in TASKS:
        raise ModelError(f"unknown task '{task}': one of {', '.join(TASKS)}")
    # Before importing torch, so a missing model fails at once. Loading reads only the
    # resolved local folder (local_files_only): it never waits on a network.
    resolved = resolve(name)
    if resolved.info is not None and resolved.info.single_file and loader is None:
        raise ModelError(
            f"model '{resolved.info.name}' is a single {resolved.path.suffix} file run by "
            "OpenCV, not a transformers model; find it with resolve_file"
        )
    dev = pick_device(device)
    dtype = torch_dtype(precision, dev)
    loader_id = "" if loader is None else f"{loader.__module__}.{loader.__qualname__}"
    key = (str(resolved.path), _fingerprint(resolved.path), task, dev, precision, loader_id)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # one load per key; other threads wait for it, then hit the cache
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit
        if progress is not None:
            progress(f"loading model {resolved.info.label if resolved.info else name}")
        t0 = time.perf_counter()
        module = (loader or _transformers_loader(task))(resolved.path, dev, dtype)
        module = module.to(dev).eval()
        loaded = LoadedModel(
            name=name,
            path=resolved.path,
            info=resolved.info,
            task=task,
            device=dev,
            precision=precision,
            model=module,
            dtype=dtype,
            config=_read_json(resolved.path / "config.json"),
            preprocessor=_read_json(resolved.path / "preprocessor_config.json"),
            seconds=time.perf_counter() - t0,
        )
        with _cache_lock:
            _cache[key] = loaded
            while len(_cache) > MAX_LOADED:
                _cache.popitem(last=False)
            _key_locks.pop(key, None)
        return loaded


def loaded_models() -> list[LoadedModel]:
    """What is in the memory cache, least recently used first."""
    with _cache_lock:
        return list(_cache.values())


def clear_cache() -> None:
    """Drop every loaded model (frees memory; the next use loads again)."""
    with _cache_lock:
        _cache.clear()


# ----------------------------------------------------------------------------- pulling
def _hub_reachable(timeout: float = 3.0) -> str | None:
    """None if the hub answers a TCP connect within ``timeout`` s, else why not."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return "HF_HUB_OFFLINE is set"
    url = urlparse(str(constants.ENDPOINT))
    host, port = url.hostname or "huggingface.co", url.port or 443
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host} is unreachable ({exc})")

    worker = threading.Thread(target=probe, daemon=True)  # DNS has no timeout of its own
    worker.start()
    worker.join(timeout + 0.5)
    return outcome[0] if outcome else f"{host} did not answer within {timeout:.0f} s"


def _require_hub(what: str, copy_hint: str) -> None:
    """Fail at once, saying what to do instead, when the hub cannot be reached."""
    why = _hub_reachable()
    if why is not None:
        raise ModelError(
            f"cannot download '{what}': {why}. Run this command on a connected machine, "
            f"or copy {copy_hint} into {MODELS_ENV} / --models-dir."
        )


def _download_dir(target: Path | None, subdir: str) -> Path | None:
    """Where a pull writes: ``target`` (else the first models folder) / ``subdir``, made;
    None means the Hugging Face cache."""
    dirs = models_dirs()
    root = target if target is not None else (dirs[0] if dirs else None)
    if root is None:
        return None
    local_dir = root / subdir
    local_dir.mkdir(parents=True, exist_ok=True)
    return local_dir


def pull(name: str, *, target: Path | None = None) -> Path:
    """Download a model's configs + safetensors (progress bars on stderr); its folder.

    ``target`` (default: the first ``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face
    cache) receives ``<org>--<repo>/``. Fails at once when the hub is unreachable.
    Single-file models go through ``pull_file``.
    """
    info = lookup(name)
    if info is not None and info.single_file:
        return pull_file(info.name, target=target)
    repo_id = info.repo_id if info else name
    if info is None and not (repo_id.count("/") == 1 and all(repo_id.split("/"))):
        known = ", ".join(m.name for m in CATALOGUE)
        raise ModelError(f"unknown model '{name}': use a catalogue name ({known}) or a hub id")
    _require_hub(repo_id, "the model folder")
    from huggingface_hub import snapshot_download

    org, _, repo = repo_id.partition("/")
    local_dir = _download_dir(target, f"{org}--{repo}")
    try:
        path = Path(
            str(snapshot_download(repo_id, local_dir=local_dir, allow_patterns=list(PULL_PATTERNS)))
        )
    except Exception as exc:
        raise ModelError(f"downloading '{repo_id}' failed: {type(exc).__name__}: {exc}") from None
    problem = _folder_problem(path)
    if problem is not None:
        raise ModelError(f"'{repo_id}' downloaded to {path} but cannot be used: {problem}")
    return path


def pull_file(name: str, *, target: Path | None = None) -> Path:
    """Download a single-file model from the hub (a progress bar on stderr); the file.

    ``target`` (default: the first ``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face
    cache) receives ``<name>/<filename>``, where ``resolve_file`` looks. Only the catalogued
    file is fetched. A file that is not on the hub is not fetched from anywhere else: the
    error says where to get it by hand. Fails at once when the hub is unreachable.
    """
    info = lookup(name)
    if info is None or not info.single_file:
        known = ", ".join(m.name for m in single_file_models())
        raise ModelError(f"unknown single-file model '{name}': one of {known}")
    if not info.repo_id:
        raise ModelError(f"cannot download '{info.name}'. {file_hint(info)}.")
    where = f"{info.repo_id}/{info.filename}"
    _require_hub(where, info.filename)
    import huggingface_hub

    local_dir = _download_dir(target, info.name)
    try:
        got = huggingface_hub.hf_hub_download(info.repo_id, info.filename, local_dir=local_dir)
    except Exception as exc:
        raise ModelError(f"downloading '{where}' failed: {type(exc).__name__}: {exc}") from None
    path = Path(str(got))
    problem = _file_problem(path)
    if problem is not None:
        raise ModelError(f"'{where}' downloaded to {path} but cannot be used: {problem}")
    return path


# ----------------------------------------------------------------------------- CLI
def _size(mb: float) -> str:
    if mb < 1:  # single-file models are a few hundred KB
        return f"{mb * 1000:.0f} KB"
    return f"{mb / 1000:.2f} GB" if mb >= 1000 else f"{mb:g} MB"


def list_rows(models: Iterable[ModelInfo] | None = None) -> list[dict[str, Any]]:
    rows = []
    for m in models if models is not None else CATALOGUE:
        where = locate(m.name)
        rows.append(
            {
                **m.to_json(),
                "present": where is not None,
                "path": str(where.path) if where else None,
            }
        )
    return rows


def cli(args: argparse.Namespace) -> int:
    """``gateway-studio models list [--json]`` and ``gateway-studio models pull NAME``."""
    verb = getattr(args, "models_verb", None) or "list"
    if verb == "pull":
        path = pull(args.name)
        print(f"{args.name}: ready in {path}")
        return 0
    rows = list_rows()
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return 0
    cols = [
        ("name", [r["name"] for r in rows]),
        ("task", [r["task"] for r in rows]),
        ("size", [_size(r["size_mb"]) for r in rows]),
        ("output", [r["output"] for r in rows]),
        ("licence", [r["licence"] for r in rows]),
        ("present", [f"yes  {r['path']}" if r["present"] else "no" for r in rows]),
    ]
    widths = [max(len(title), *(len(v) for v in values)) for title, values in cols]
    for i in range(-1, len(rows)):
        cells = [title if i < 0 else values[i] for title, values in cols]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    dirs = os.pathsep.join(str(d) for d in models_dirs()) or f"(none; set {MODELS_ENV})"
    print(f"\nmodel folders: {dirs}\nHugging Face cache: {_hf_cache_dir()}", file=sys.stderr)
    return 0
