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

The book lives beside the disk cache (``reasons/`` under its root, one JSON file per patch
folder, written once at the end of an evaluation), so ``gateway-studio render --report -``
can say why across runs; without a disk cache it is kept in memory.
"""

from __future__ import annotations

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


def explain(
    node_id: str, old: Ingredients | None, new: Ingredients, since: Ingredients | None = None
) -> str:
    """What changed from ``old`` to ``new``, most telling first; '; '-joined. ``since``:
    ingredients ``new`` differs from in its inputs only (a knob changed upstream)."""
    if old is None:
        return FIRST_RUN
    if old is since:  # only inputs can differ
        return "; ".join(_input_changes(old["inputs"], new["inputs"])) or NOT_CACHED
    changes: list[str] = []
    if old.get("version") != new["version"]:
        changes.append(f"node version {old.get('version')} → {new['version']}")
    if old.get("params", {}) != new["params"]:
        changes += _param_changes(node_id, old, new)
    if old.get("inputs", {}) != new["inputs"]:
        changes += _input_changes(old.get("inputs", {}), new["inputs"])
    if old.get("identity") != new["identity"]:
        changes.append("model weights changed")
    if old.get("bypass") != new["bypass"]:
        changes.append("bypass turned " + ("on" if new["bypass"] else "off"))
    return "; ".join(changes) or NOT_CACHED


class Why:
    """``explain`` of one computed node, put into words when first asked: a headless
    render or an API caller reads few of them (the app reads each on its own thread, not
    the evaluating one). Equal to another ``Why`` or a ``str`` with the same text."""

    __slots__ = ("_new", "_node_id", "_old", "_since", "_text")

    def __init__(
        self,
        node_id: str,
        old: Ingredients | None,
        new: Ingredients,
        since: Ingredients | None = None,
    ) -> None:
        self._node_id, self._old, self._new, self._since = node_id, old, new, since
        self._text: str | None = None

    def __str__(self) -> str:
        text = self._text
        if text is None:  # (ingredients are never changed once made: safe to read late)
            text = self._text = explain(self._node_id, self._old, self._new, self._since)
        return text

    def __repr__(self) -> str:
        return f"Why({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Why | str):
            return str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))


def worded(why: Why | None) -> str:
    """A computed node's reason in words; "" for a node that did not compute."""
    return str(why) if why is not None else ""


def _param_changes(node_id: str, old: Ingredients, new: Ingredients) -> list[str]:
    changes: list[str] = []
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
    return changes


def _input_changes(old_inputs: dict[str, Any], new_inputs: dict[str, Any]) -> list[str]:
    if old_inputs.keys() == new_inputs.keys():  # the same inputs connected
        return [f"input {n} changed" for n in sorted(new_inputs) if old_inputs[n] != new_inputs[n]]
    changes: list[str] = []
    for name, key in sorted(new_inputs.items()):
        if name not in old_inputs:
            changes.append(f"input {name} connected")
        elif old_inputs[name] != key:
            changes.append(f"input {name} changed")
    for name in sorted(set(old_inputs) - set(new_inputs)):
        changes.append(f"input {name} disconnected")
    return changes


class ReasonBook:
    """Each node's last ingredients, by lineage (patch folder + node id).

    With a ``root`` folder the book outlives the process: one JSON file per patch folder
    (``{"folder": …, "nodes": {node id: ingredients}}``), read once when a node of that
    folder is first looked up, and written by ``flush`` — once per folder per
    evaluation (the evaluator flushes when it ends), merged with what another process
    may have written meanwhile. A missing, damaged or unwritable file costs the
    history, never the render."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self._memory: dict[str, Ingredients] = {}
        #: Folders whose file has been read into ``_memory``.
        self._loaded: set[str] = set()
        #: Lineages whose ingredients in ``_memory`` are on disk as they are.
        self._saved: set[str] = set()
        #: Folder → node ids to write at the next ``flush``.
        self._dirty: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def lineage(base_dir: Path | None, node_id: str) -> str:
        return f"{base_dir or ''}\n{node_id}"

    def _file(self, folder: str) -> Path | None:
        if self.root is None:
            return None
        name = hashlib.blake2b(folder.encode("utf-8"), digest_size=12).hexdigest()
        return self.root / f"{name}.json"

    def _read(self, folder: str) -> dict[str, Ingredients]:
        """The nodes' ingredients in ``folder``'s file ({} if none or damaged)."""
        file = self._file(folder)
        try:
            data = json.loads(file.read_text(encoding="utf-8")) if file else None
        except (OSError, ValueError):
            return {}  # missing or damaged: no history, never an error
        if not isinstance(data, dict) or data.get("folder") != folder:
            return {}
        nodes = data.get("nodes")
        if not isinstance(nodes, dict):
            return {}
        return {k: v for k, v in nodes.items() if isinstance(v, dict)}

    def last(self, lineage: str) -> Ingredients | None:
        with self._lock:
            found = self._memory.get(lineage)
            if found is not None or self.root is None:
                return found
            folder, _, _ = lineage.rpartition("\n")
            if folder in self._loaded:
                return None
        on_disk = self._read(folder)
        with self._lock:
            self._loaded.add(folder)
            for node_id, made in on_disk.items():
                line = f"{folder}\n{node_id}"
                if line not in self._memory:
                    self._memory[line] = made
                    self._saved.add(line)
            return self._memory.get(lineage)

    def remember(self, lineage: str, new: Ingredients, *, persist: bool = True) -> None:
        """Note ``new`` as the node's last ingredients; with ``persist`` (and a root)
        the next ``flush`` writes them."""
        with self._lock:
            if self._memory.get(lineage) == new and (not persist or lineage in self._saved):
                return
            self._note(lineage, new, persist)

    def _note(self, lineage: str, new: Ingredients, persist: bool) -> None:
        self._memory[lineage] = new
        self._saved.discard(lineage)
        if persist and self.root is not None:
            folder, _, node_id = lineage.rpartition("\n")
            self._dirty.setdefault(folder, set()).add(node_id)

    def revise(
        self,
        lineage: str,
        node_id: str,
        new: Ingredients,
        *,
        persist: bool = True,
        since: Ingredients | None = None,
    ) -> Why:
        """``remember``, and what changed since the node last ran (a node that computes
        has new ingredients, or had none kept), as ``explain`` will say it. ``since``: as
        ``explain``."""
        if self.root is None:  # in memory only: nothing to read or write (one dict swap)
            old = self._memory.get(lineage)
            self._memory[lineage] = new
            return Why(node_id, old, new, since)
        with self._lock:
            old = self._memory.get(lineage)
            known = (
                old is not None
                or self.root is None
                or lineage.rpartition("\n")[0] in self._loaded  # (nothing more on disk)
            )
            if known:
                self._note(lineage, new, persist)
        if not known:
            old = self.last(lineage)  # (reads the folder's file the first time)
            with self._lock:
                self._note(lineage, new, persist)
        return Why(node_id, old, new, since)

    def flush(self) -> None:
        """Write what ``remember`` noted to persist: one file per patch folder."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
        for folder, node_ids in dirty.items():
            file = self._file(folder)
            if file is None:
                continue
            nodes = self._read(folder)  # what another process may have written since
            with self._lock:
                lines = {n: f"{folder}\n{n}" for n in node_ids}
                nodes.update({n: self._memory[line] for n, line in lines.items()})
            data = json.dumps({"folder": folder, "nodes": nodes}, default=str)
            try:  # a read-only cache folder costs the history, not the render
                atomic_write(file, data.encode("utf-8"))
            except OSError:
                continue
            with self._lock:
                self._saved.update(line for line in lines.values() if line in self._memory)

    def explain(self, lineage: str, node_id: str, new: Ingredients) -> str:
        return explain(node_id, self.last(lineage), new)
