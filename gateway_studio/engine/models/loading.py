"""Loading a transformers model once per (weights, task, device, precision)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalogue import MAX_LOADED, TASKS, ModelError, ModelInfo, OutputKind
from .identities import _fingerprint
from .resolving import resolve
from .runtimes import pick_device, torch_dtype


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
