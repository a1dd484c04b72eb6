"""The bundle cache: a byte-bounded memory LRU in front of a content-addressed disk store.

Disk entries are ``<root>/<key[:2]>/<key>.slot`` files: a magic line, a BLAKE2 digest of
the payload, then an ``.npz`` payload (arrays + JSON metadata, loaded with
``allow_pickle=False``). A missing, truncated or corrupt entry reads as a miss (and is
deleted), so the node is recomputed; a failing disk never fails an evaluation.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from .slots import SLOT_TYPES, Slot

_MAGIC = b"GWSLOT1\n"
_DIGEST = 32


def encode_slot(slot: Slot) -> bytes:
    arrays, meta = slot.to_arrays()
    header = json.dumps({"type": slot.type_name, "meta": meta}).encode("utf-8")
    buf = io.BytesIO()
    arrays = {"__header__": np.frombuffer(header, dtype=np.uint8), **arrays}
    np.savez(buf, allow_pickle=False, **arrays)
    payload = buf.getvalue()
    return _MAGIC + hashlib.blake2b(payload, digest_size=_DIGEST).digest() + payload


def decode_slot(data: bytes) -> Slot:
    """Raise ValueError for anything that is not an intact slot file."""
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _DIGEST:
        raise ValueError("not a slot file")
    stored = data[len(_MAGIC) : len(_MAGIC) + _DIGEST]
    payload = data[len(_MAGIC) + _DIGEST :]
    if hashlib.blake2b(payload, digest_size=_DIGEST).digest() != stored:
        raise ValueError("checksum mismatch")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop("__header__").tobytes().decode("utf-8"))
    slot_type = SLOT_TYPES[header["type"]]
    return slot_type.from_arrays(arrays, header["meta"])


class MemoryCache:
    """LRU of slots bounded by their total bytes."""

    def __init__(self, max_bytes: int = 2 << 30) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[Slot, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Slot | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: str, slot: Slot) -> None:
        size = slot.nbytes
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key)[1]
            if size > self.max_bytes:
                return
            self._items[key] = (slot, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, freed) = self._items.popitem(last=False)
                self._bytes -= freed

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class DiskStore:
    """Content-addressed slot files under ``root``, bounded by ``max_bytes``.

    A hit refreshes the file's mtime, so pruning drops the least recently used entries
    first; pruning runs after every ``prune_every`` writes."""

    def __init__(self, root: Path, *, max_bytes: int | None = None, prune_every: int = 64) -> None:
        self.root = Path(root)
        env = os.environ.get("GATEWAY_STUDIO_CACHE_MAX_GB")
        default = int(float(env) * 2**30) if env else 20 * 2**30
        self.max_bytes = max_bytes if max_bytes is not None else default
        self._prune_every = prune_every
        self._writes = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.slot"

    def get(self, key: str) -> Slot | None:
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            slot = decode_slot(data)
        except Exception:  # corrupt or truncated: forget it, the node recomputes
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return slot

    def put(self, key: str, slot: Slot) -> bool:
        """Write an entry; False (never an exception) if the slot or the disk refuses."""
        path = self.path(key)
        try:
            data = encode_slot(slot)
        except (TypeError, ValueError, OSError):  # metadata that is not JSON, etc.
            return False
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            if tmp is not None:  # a full disk must not fill up further with our leftovers
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False
        self._writes += 1
        if self._writes % self._prune_every == 0:
            self.prune()
        return True

    def prune(self) -> int:
        """Delete least recently used entries until the store fits; returns bytes freed."""
        try:
            entries = [(p.stat(), p) for p in self.root.glob("*/*.slot")]
        except OSError:
            return 0
        total = sum(st.st_size for st, _ in entries)
        freed = 0
        for st, p in sorted(entries, key=lambda e: e[0].st_mtime):
            if total - freed <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                p.unlink()
                freed += st.st_size
        return freed


class SlotCache:
    """What the evaluator talks to: memory first, then disk (if any)."""

    def __init__(self, disk_root: Path | None = None, *, memory_bytes: int = 2 << 30) -> None:
        self.memory = MemoryCache(memory_bytes)
        self.disk = DiskStore(disk_root) if disk_root is not None else None

    def get(self, key: str) -> tuple[Slot | None, str]:
        """(slot, where) with where "memory", "disk" or "miss"."""
        slot = self.memory.get(key)
        if slot is not None:
            return slot, "memory"
        if self.disk is not None:
            slot = self.disk.get(key)
            if slot is not None:
                self.memory.put(key, slot)
                return slot, "disk"
        return None, "miss"

    def put(self, key: str, slot: Slot, *, persist: bool = True) -> None:
        self.memory.put(key, slot)
        if persist and self.disk is not None:
            self.disk.put(key, slot)

    def info(self) -> dict[str, Any]:
        return {
            "memory_entries": len(self.memory),
            "memory_bytes": self.memory.nbytes,
            "disk": str(self.disk.root) if self.disk else None,
        }
