"""Content keys: what makes two computations the same.

The key of a node's outputs hashes its type id, version, sorted params and the keys of
the slots feeding it (ComfyUI's "signature" cache), never the values themselves. A param
of kind "path" contributes a fingerprint of the file's *bytes*, so renaming or touching a
photo keeps its cache, and editing it invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_HASH_CHUNK = 1 << 20


def digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class FileFingerprints:
    """Hashes of files' bytes, remembered per (path, size, mtime) so a knob drag never
    re-reads a photo; the key itself depends only on the bytes."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def of(self, path: Path) -> str:
        try:
            st = path.stat()
        except OSError:
            return "missing:" + str(path)
        stamp = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        with self._lock:
            known = self._known.get(stamp)
        if known is not None:
            return known
        value = fingerprint_file(path)
        with self._lock:
            self._known[stamp] = value
        return value


def fingerprint_file(path: Path) -> str:
    """ "file:<hash of the bytes>" (or a marker for a missing/unreadable file)."""
    h = hashlib.blake2b(digest_size=20)
    try:
        with Path(path).open("rb") as f:
            while chunk := f.read(_HASH_CHUNK):
                h.update(chunk)
    except FileNotFoundError:
        return "missing:" + str(path)
    except OSError:
        return "unreadable:" + str(path)
    return "file:" + h.hexdigest()


def node_key(
    type_id: str,
    version: int,
    params: Mapping[str, Any],
    input_keys: Mapping[str, str | None],
) -> str:
    """Key of a node evaluation (params must already have path params fingerprinted)."""
    return digest(
        type_id,
        str(version),
        json.dumps(params, sort_keys=True, default=str),
        json.dumps(dict(sorted(input_keys.items()))),
    )


def default_cache_dir() -> Path:
    env = os.environ.get("GATEWAY_STUDIO_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gateway-studio")) / "bundles"
