"""Resolving a name to local files: model folders, the Hugging Face cache, single files.

Never touches the network (``local_files_only`` / ``try_to_load_from_cache``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gateway_studio.engine.errors import ModelMissingError

from .catalogue import (
    CATALOGUE,
    MODELS_ENV,
    ModelInfo,
    _size,
    lookup,
    pull_command,
    single_file_models,
)


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
    if (folder / "model_index.json").is_file():  # a diffusers pipeline: weights per part
        if any(folder.glob("*/*.safetensors")):
            return None
        if any(folder.glob("*/*.bin")):
            return "only pickle-based .bin weights, which are never loaded (safetensors only)"
        return "no .safetensors weights in its component folders"
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


# ----------------------------------------------------------------------------- single files
#: The single-file weights the store hands out. ONNX (protobuf) and TFLite (flatbuffer)
#: are plain data that OpenCV parses: nothing in them runs on load, unlike pickled .pt/.bin.
SAFE_FILE_SUFFIXES = (".onnx", ".tflite")


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
