"""Content keys: what makes two computations the same.

The key of a node's outputs hashes its type id, version, sorted params and the keys of
the slots feeding it (ComfyUI's "signature" cache), never the values themselves. A param
of kind "path" contributes a fingerprint of the file's *bytes*, so renaming or touching a
photo keeps its cache, and editing it invalidates it. Hashing streams, can be cancelled,
reads regular files only and stops at a size cap (see ``fingerprint_file``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from .errors import Cancelled
from .limits import IMAGE_BUDGET_ENV, describe_bytes, image_budget_bytes
from .paths import PathRefused, check_regular, open_regular

_HASH_CHUNK = 1 << 20

#: A BLAKE2b-160 state part-way through a node's key (``node_key_head``).
KeySeed = hashlib.blake2b


def digest(*parts: str) -> str:
    """BLAKE2b-160 of the parts, each followed by a NUL byte (one update: the same
    bytes as feeding them one by one)."""
    return _blake(_nul_ended(parts))


def _nul_ended(parts: tuple[str, ...]) -> bytes:
    """The bytes ``digest`` hashes: each part in UTF-8, followed by a NUL byte."""
    return ("\x00".join(parts) + "\x00").encode("utf-8")


def _blake(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


class FileFingerprints:
    """Hashes of files' bytes, remembered per (path, inode, size, mtime, ctime) so a knob
    drag never re-reads a photo; the key itself depends only on the bytes.

    With an ``index`` folder (beside the disk cache) the hashes are remembered across
    processes too, so a warm command-line render of an 8K photo does not re-read its
    54 MB. The ctime is part of the stamp: no tool can set it, so content rewritten with
    the same size and a restored mtime still counts as new."""

    def __init__(self, index: Path | None = None) -> None:
        self._known: dict[tuple[str, int, int, int, int], str] = {}
        self._lock = threading.Lock()
        self.index = index

    def of(self, path: Path, *, cancelled: Callable[[], bool] | None = None) -> str:
        """The fingerprint of a regular file (``missing:`` if there is none); raises
        ``PathRefused`` for anything else or a file over the size cap, ``Cancelled``."""
        try:
            st = check_regular(path)
        except (FileNotFoundError, NotADirectoryError):
            return "missing:" + str(path)
        except (OSError, ValueError) as exc:
            raise _unreadable(path, exc) from None
        stamp = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        with self._lock:
            known = self._known.get(stamp)
        if known is None:
            known = self._recall(stamp)
        if known is not None:
            return known
        value = fingerprint_file(path, cancelled=cancelled)
        with self._lock:
            self._known[stamp] = value
        self._note(stamp, value)
        return value

    def _entry(self, stamp: tuple[str, int, int, int, int]) -> Path | None:
        if self.index is None:
            return None
        name = digest(stamp[0])
        return self.index / name[:2] / f"{name}.json"

    def _recall(self, stamp: tuple[str, int, int, int, int]) -> str | None:
        """The hash another process noted for exactly this stamp, if any."""
        entry = self._entry(stamp)
        if entry is None:
            return None
        try:
            noted = json.loads(entry.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(noted, dict) or noted.get("stamp") != list(stamp):
            return None
        value = noted.get("fingerprint")
        return value if isinstance(value, str) and value.startswith("file:") else None

    def _note(self, stamp: tuple[str, int, int, int, int], value: str) -> None:
        entry = self._entry(stamp)
        if entry is None or not value.startswith("file:"):
            return
        text = json.dumps({"stamp": list(stamp), "fingerprint": value})
        try:  # best effort: a read-only or full disk only costs a re-hash next time
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            tmp.write_text(text, "utf-8")
            os.replace(tmp, entry)
        except OSError:
            return


def source_size_cap() -> int:
    """Largest file a node may read: the image memory budget (no image file larger than
    it could decode within it; raw ``.npy`` arrays take their own size in memory)."""
    return image_budget_bytes()


def fingerprint_file(path: Path, *, cancelled: Callable[[], bool] | None = None) -> str:
    """``file:<hash of the bytes>``, or ``missing:<path>`` when there is no such file.

    Streams the file in 1 MiB chunks, checking ``cancelled`` between them. Refuses
    (``PathRefused``) devices, FIFOs, sockets and folders before reading a byte, and
    files larger than ``source_size_cap()`` (counting what is read, not only what
    ``stat`` says, so a file that never ends still stops)."""
    h = hashlib.blake2b(digest_size=20)
    cap = source_size_cap()
    read = 0
    try:
        with open_regular(path) as f:
            if os.fstat(f.fileno()).st_size > cap:
                raise _too_large(path, os.fstat(f.fileno()).st_size, cap)
            while chunk := f.read(_HASH_CHUNK):
                read += len(chunk)
                if read > cap:
                    raise _too_large(path, read, cap)
                h.update(chunk)
                if cancelled is not None and cancelled():
                    raise Cancelled("evaluation cancelled")
    except (FileNotFoundError, NotADirectoryError):
        return "missing:" + str(path)
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    return "file:" + h.hexdigest()


def _unreadable(path: Path, exc: Exception) -> PathRefused:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return PathRefused(f"{path}: cannot read it ({reason})")


def _too_large(path: Path, size: int, cap: int) -> PathRefused:
    return PathRefused(
        f"{path}: refused, the file is {describe_bytes(size)}, larger than the image memory "
        f"budget of {describe_bytes(cap)} that caps what a node reads "
        f"(set {IMAGE_BUDGET_ENV} to raise it)"
    )


def node_key(
    type_id: str,
    version: int,
    params: Mapping[str, Any],
    input_keys: Mapping[str, str | None],
) -> str:
    """Key of a node evaluation (params must already have path params fingerprinted):
    the digest of its type id, version, ``json.dumps(params, sort_keys=True,
    default=str)`` and ``json.dumps`` of the input keys sorted by slot name."""
    return node_key_with(node_key_head(type_id, version, sorted_json(params)), input_keys)


def output_key(node_key: str, output: str) -> str:
    """The key of a node's output: its node key (40 hex digits) and the output's name
    (an ASCII identifier, checked by ``node.node``), so no two outputs of two keys ever
    meet; a name, not a digest, since every node's output is keyed at every change."""
    return f"{node_key}.{output}"


def node_key_head(type_id: str, version: int, params_text: str) -> KeySeed:
    """The hash state after what a node's key hashes before its input keys: a node whose
    params are unchanged re-keys with new input keys only, from a copy of it
    (``node_key_with``)."""
    return hashlib.blake2b(_nul_ended((type_id, str(version), params_text)), digest_size=20)


def node_key_with(head: KeySeed, input_keys: Mapping[str, str | None]) -> str:
    """The node key of ``node_key_head`` and the input keys: ``digest`` of the four."""
    state = head.copy()
    state.update(_nul_ended((sorted_json(input_keys),)))
    return state.hexdigest()


_PARAMS_JSON = json.JSONEncoder(sort_keys=True, default=str)


def _scalar_json(value: Any) -> str | None:
    """``value`` as JSON for a str, finite float, int, bool or None; else None."""
    kind = type(value)
    if kind is str:
        return str(encode_basestring_ascii(value))
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else None
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return "null" if value is None else None


def sorted_json(mapping: Mapping[str, Any]) -> str:
    """``json.dumps(mapping, sort_keys=True, default=str)``, the same text, made faster
    for what keys hold (a flat dict of str, finite float, int, bool or None values);
    anything else goes through ``json`` itself."""
    if len(mapping) == 1:  # (most nodes have one input: their input keys)
        for name, value in mapping.items():
            if type(name) is str and type(value) is str:
                return f"{{{encode_basestring_ascii(name)}: {encode_basestring_ascii(value)}}}"
    parts = []
    for name in sorted(mapping):
        value = mapping[name]  # (input keys are all str: no call for those)
        text = encode_basestring_ascii(value) if type(value) is str else _scalar_json(value)
        if text is None or type(name) is not str:
            return _PARAMS_JSON.encode(mapping)
        parts.append(f"{encode_basestring_ascii(name)}: {text}")
    return "{" + ", ".join(parts) + "}"


def default_cache_dir() -> Path:
    env = os.environ.get("GATEWAY_STUDIO_CACHE")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("gateway-studio")) / "bundles"
