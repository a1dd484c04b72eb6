"""Why did this node re-run? The ingredients of each node's cache key, remembered from its
last run, compared with this run's.

A node's key hashes its type, version, params (a read file by its bytes), the keys of its
inputs, the identity of what it loads (model weights) and whether it is bypassed. When a
node computes, ``ReasonBook.explain`` names which of those changed since the same node
(same patch folder, same node id) last ran:

    param fog.density 1.2 → 1.5
    input depth changed
    new file bytes: photo.jpg
    model weights changed
    node version 1 → 2
    first run            (never ran before, as far as this cache knows)
    not in the cache     (same ingredients: the entry was evicted or never stored)

The book lives beside the disk cache (``reasons/`` under its root, one small JSON file per
node), so ``gateway-studio render --report -`` can say why across runs; without a disk
cache it is kept in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .files import atomic_write

Ingredients = dict[str, Any]
FIRST_RUN = "first run"
NOT_CACHED = "not in the cache (same inputs and params: the entry was evicted or not kept)"
#: Longest value shown in a reason (a long string param is cut).
SHOWN = 40


def ingredients(
    version: int,
    keyed: Mapping[str, Any],
    files: Mapping[str, str],
    input_keys: Mapping[str, str | None],
) -> Ingredients:
    """What a key was made of: ``keyed`` the params as hashed (read paths by fingerprint,
    plus ``__identity__`` / ``__bypass__``), ``files`` read path param → file path."""
    return {
        "version": version,
        "params": {k: v for k, v in keyed.items() if not k.startswith("__")},
        "identity": keyed.get("__identity__"),
        "bypass": bool(keyed.get("__bypass__", False)),
        "files": dict(files),
        "inputs": {k: v for k, v in input_keys.items()},
    }


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (int, float)) else repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def explain(node_id: str, old: Ingredients | None, new: Ingredients) -> str:
    """What changed from ``old`` to ``new``, most telling first; '; '-joined."""
    if old is None:
        return FIRST_RUN
    changes: list[str] = []
    if old.get("version") != new["version"]:
        changes.append(f"node version {old.get('version')} → {new['version']}")
    old_params, old_files = old.get("params", {}), old.get("files", {})
    for name, value in new["params"].items():
        before = old_params.get(name)
        if before == value:
            continue
        path, old_path = new["files"].get(name), old_files.get(name)
        if path is not None and path == old_path:
            changes.append(f"new file bytes: {Path(path).name}")
        elif path is not None:
            shown = Path(old_path).name if old_path else "(none)"
            changes.append(f"param {node_id}.{name} {shown} → {Path(path).name}")
        else:
            changes.append(f"param {node_id}.{name} {_show(before)} → {_show(value)}")
    old_inputs = old.get("inputs", {})
    for name, key in sorted(new["inputs"].items()):
        if name not in old_inputs:
            changes.append(f"input {name} connected")
        elif old_inputs[name] != key:
            changes.append(f"input {name} changed")
    for name in sorted(set(old_inputs) - set(new["inputs"])):
        changes.append(f"input {name} disconnected")
    if old.get("identity") != new["identity"]:
        changes.append("model weights changed")
    if old.get("bypass") != new["bypass"]:
        changes.append("bypass turned " + ("on" if new["bypass"] else "off"))
    return "; ".join(changes) or NOT_CACHED


class ReasonBook:
    """Each node's last ingredients, by lineage (patch folder + node id)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self._memory: dict[str, Ingredients] = {}
        self._lock = threading.Lock()

    @staticmethod
    def lineage(base_dir: Path | None, node_id: str) -> str:
        return f"{base_dir or ''}\n{node_id}"

    def _file(self, lineage: str) -> Path | None:
        if self.root is None:
            return None
        name = hashlib.blake2b(lineage.encode("utf-8"), digest_size=12).hexdigest()
        return self.root / f"{name}.json"

    def last(self, lineage: str) -> Ingredients | None:
        with self._lock:
            if lineage in self._memory:
                return self._memory[lineage]
        file = self._file(lineage)
        if file is None:
            return None
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or damaged: no history, never an error
        return data if isinstance(data, dict) else None

    def remember(self, lineage: str, new: Ingredients, *, persist: bool = True) -> None:
        with self._lock:
            if self._memory.get(lineage) == new:
                return
            self._memory[lineage] = new
        file = self._file(lineage)
        if file is not None and persist:
            # a read-only cache folder costs the history, not the render
            with contextlib.suppress(OSError):
                atomic_write(file, json.dumps(new, default=str).encode("utf-8"))

    def explain(self, lineage: str, node_id: str, new: Ingredients) -> str:
        return explain(node_id, self.last(lineage), new)
