"""Each node's cache key, made once per change of what it is made of.

A node's key is ``keys.node_key`` of its type, version, params (a read file by its
bytes, ``keys.FileFingerprints``), the identity of what it loads, whether it is
bypassed and the keys of its inputs; each output's key is the node's key and the
output's name (``keys.output_key``). Hashing that for every node on every evaluation
is most of an evaluation's cost when the nodes are cached, so ``NodeKeys`` remembers,
per node id, the last key it made and what it was made from. A node's key is reused
only when the same spec, equal params, the same bypass and equal input keys come
again, compared by value, so a param edited in place (not through
``PatchGraph.set_param``) is seen too. A knob change therefore re-keys the changed
node and, through their input keys, its descendants; nothing else is hashed again.

Nodes whose key also depends on the world outside the patch — a file they read, the
weights their identity names — are keyed afresh every time (their file fingerprints
are remembered by file stamp instead).
"""

from __future__ import annotations

from collections.abc import Callable
from math import copysign
from pathlib import Path
from typing import Any

from .keys import (
    FileFingerprints,
    KeySeed,
    node_key_head,
    node_key_with,
    output_key,
    sorted_json,
)
from .node import Context, NodeSpec
from .reasons import Ingredients, ingredients

#: Node ids remembered at most; past it the memo starts afresh (keys are only ever
#: recomputed, never wrong).
MEMO_NODES = 4096


class Keyed:
    """A node's key, what it was made of (``reasons.ingredients``) and its outputs'
    keys, with what the memo compares to reuse it. Shared by every evaluation that
    reuses it, so never changed once made (``noted`` aside: a note for the evaluator)."""

    __slots__ = (
        "bypass",
        "head",
        "inputs",
        "key",
        "made",
        "noted",
        "out_keys",
        "params",
        "params_text",
        "since",
        "spec",
        "types",
    )

    def __init__(
        self,
        spec: NodeSpec,
        params: dict[str, Any],
        bypass: bool,
        inputs: dict[str, str | None],
        params_text: str,
        made: Ingredients,
        types: tuple[type, ...],
        head: KeySeed,
        since: Ingredients | None,
    ) -> None:
        """``params`` is kept as it is (a copy the caller no longer changes), and so
        is ``inputs``; ``types`` are those of the params' values, ``head`` the hash
        state of their ``keys.node_key_head``; ``since``: as ``with_inputs``."""
        self.spec, self.bypass, self.params, self.inputs = spec, bypass, params, inputs
        self.types = types
        #: The params as hashed (read files by their bytes), as ``keys.sorted_json`` text,
        #: and the hash state of them after the type and version (``keys.node_key_head``).
        self.params_text, self.head = params_text, head
        self.made = made
        self.key = key = node_key_with(head, inputs)
        self.out_keys = out_keys(key, spec)
        #: The patch folder's lineage (``ReasonBook.lineage(base_dir, "")``: a Keyed is
        #: one node's) ``reasons.ReasonBook`` last filed ``made`` under, if any (the
        #: evaluator need not file the same ingredients again).
        self.noted: str | None = None
        #: ``with_inputs``: the ingredients this key's differ from in their inputs only.
        self.since = since

    def with_inputs(self, inputs: dict[str, str | None]) -> Keyed:
        """The same node, params and bypass fed by other input keys."""
        made = {**self.made, "inputs": inputs}
        return Keyed(
            self.spec,
            self.params,
            self.bypass,
            inputs,
            self.params_text,
            made,
            self.types,
            self.head,
            self.made,
        )


def _same(old: dict[str, Any], new: dict[str, Any], old_types: tuple[type, ...]) -> bool:
    """Equal as the key sees them: 1, 1.0 and True differ there, and so do 0.0 and -0.0."""
    if old != new or old_types != tuple(map(type, new.values())):
        return False
    if 0 not in new.values():  # equal non-zero numbers of one type: the same JSON
        return True
    return all(
        copysign(1, v) == copysign(1, old[k]) for k, v in new.items() if isinstance(v, float)
    )


def out_keys(key: str, spec: NodeSpec) -> dict[str, str]:
    """Each output's key (``keys.output_key``) of a node keyed ``key``."""
    out: dict[str, str] = {}
    for o in spec.outputs:  # (a loop: cheaper than a comprehension's frame)
        out[o.name] = output_key(key, o.name)
    return out


class NodeKeys:
    """Keys of nodes, remembered by node id while what they are made of stays equal.
    Thread-safe: entries are never changed, only replaced whole (one dict store)."""

    def __init__(self, fingerprints: FileFingerprints) -> None:
        self.fingerprints = fingerprints
        self._memo: dict[str, Keyed] = {}
        self._pure: dict[NodeSpec, bool] = {}

    def pure(self, spec: NodeSpec) -> bool:
        """Whether the node's key depends on nothing but the patch: no file params,
        no identity (model weights)."""
        known = self._pure.get(spec)
        if known is None:
            known = spec.identity is None and all(p.kind != "path" for p in spec.params)
            self._pure[spec] = known
        return known

    def keyed(
        self,
        node_id: str,
        spec: NodeSpec,
        params: dict[str, Any],
        bypass: bool,
        input_keys: dict[str, str | None],
        base_dir: Path | None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Keyed:
        """The node's key; ``GatewayError`` (``PathRefused``, ``Cancelled``) from hashing
        a file it reads. ``input_keys`` is kept as it is: the caller hands over a dict
        it no longer changes."""
        memo = self._memo.get(node_id)
        if (
            memo is not None
            and memo.spec is spec  # (only pure nodes are remembered)
            and memo.bypass == bypass
            and memo.params == params
            and memo.types == tuple(map(type, params.values()))
            and (0 not in params.values() or _same(memo.params, params, memo.types))
        ):
            if memo.inputs == input_keys:
                return memo
            keyed = memo.with_inputs(input_keys)  # a knob upstream changed: new inputs only
        else:
            keyed = self._make(spec, params, bypass, input_keys, base_dir, cancelled)
            if not self.pure(spec):
                return keyed
            if len(self._memo) >= MEMO_NODES:
                self._memo.clear()
        self._memo[node_id] = keyed  # one atomic store: no lock needed
        return keyed

    def _make(
        self,
        spec: NodeSpec,
        params: dict[str, Any],
        bypass: bool,
        input_keys: dict[str, str | None],
        base_dir: Path | None,
        cancelled: Callable[[], bool] | None,
    ) -> Keyed:
        keyed: dict[str, Any] = {}
        files: dict[str, str] = {}
        for p in spec.params:
            value = params.get(p.name, p.default)
            if p.kind == "path" and value:
                path = Context(base_dir=base_dir).resolve_path(str(value))
                if not p.save:
                    files[p.name] = str(path)
                value = (
                    str(path.resolve())
                    if p.save
                    else self.fingerprints.of(path, cancelled=cancelled)
                )
            keyed[p.name] = value
        if spec.identity is not None:
            try:
                keyed["__identity__"] = spec.identity(params, Context(base_dir=base_dir))
            except Exception as exc:  # the node will fail on its own; keep the key honest
                keyed["__identity__"] = f"unresolved:{type(exc).__name__}:{exc}"
        if bypass:
            keyed["__bypass__"] = True
        made = ingredients(spec.version, keyed, files, input_keys)
        text, kept = sorted_json(keyed), dict(params)
        head = node_key_head(spec.type_id, spec.version, text)
        types = tuple(map(type, kept.values()))
        return Keyed(spec, kept, bypass, input_keys, text, made, types, head, None)
