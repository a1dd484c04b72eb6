"""Identity of a model for cache keys: where its weights are and a stamp of them."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from gateway_studio.engine.errors import GatewayError

from .catalogue import MODELS_ENV, lookup
from .resolving import resolve, resolve_file

# ----------------------------------------------------------------------------- identity
_IDENTITY_TTL = 2.0  # seconds: a knob drag must not re-resolve a model on every step
_identities: dict[tuple[str, ...], tuple[float, str]] = {}
_identities_lock = threading.Lock()


def _stat_stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def _fingerprint(folder: Path) -> str:
    """Weights' names, sizes and mtimes: a replaced model folder is loaded again."""
    parts = []
    # diffusers pipelines keep their weights (and configs) one folder down, per component
    found = [*folder.glob("*.safetensors"), *folder.glob("*/*.safetensors")]
    if (folder / "model_index.json").is_file():
        found += [folder / "model_index.json", *folder.glob("*/config.json")]
    for f in sorted(found):
        st = f.stat()
        parts.append(f"{f.relative_to(folder).as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return ";".join(parts)


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
