"""How an evaluation uses the slot cache (``evaluator.py``): a node's outputs found there
(a ``Files`` hit counts only while its files are still the bytes it wrote), its inputs'
preview proxies (memory only, keyed by their size), and its results kept by the cache's
persistence policy."""

from __future__ import annotations

from pathlib import Path

from .cache import SlotCache
from .errors import GatewayError
from .keys import FileFingerprints, digest
from .node import NodeSpec
from .run_state import Step
from .slots import Files, Slot


def cached_outputs(
    cache: SlotCache, fingerprints: FileFingerprints, spec: NodeSpec, out_keys: dict[str, str]
) -> tuple[dict[str, Slot], str] | None:
    """(outputs, where from: "memory" or "disk") when the cache has every output of a
    node of ``spec``, else None. A ``Files`` hit counts only while the files it wrote
    are still those bytes."""
    hits, source = cache.get_all(out_keys)
    if len(hits) < len(out_keys):
        return None
    if spec.outputs_files:  # (only then: most nodes' hits are a dict lookup each)
        for slot in hits.values():
            if isinstance(slot, Files) and not files_intact(fingerprints, slot):
                return None
    return hits, source


def files_intact(fingerprints: FileFingerprints, files: Slot) -> bool:
    """Whether the files a ``Files`` slot names are still the bytes it wrote."""
    assert isinstance(files, Files)
    try:
        return all(
            fingerprints.of(Path(p)) == fp
            for p, fp in zip(files.paths, files.fingerprints, strict=True)
        )
    except GatewayError:  # no longer a regular file: write it again
        return False


#: The largest preview proxy (the UI's ``PREVIEW_SIZE``). Smaller proxies are made from
#: it, not from the full frame: the UI adapts a drag's proxy size to the node's speed,
#: and each new size would otherwise downscale a 12-45 MP input again (60-80 ms at
#: 10 MP, a visible hitch mid-drag).
PROXY_BASE = 1024


def proxy_input(
    cache: SlotCache, value: Slot | None, key: str | None, long_side: int | None
) -> Slot | None:
    """``value`` downscaled to ``long_side`` pixels (as it is when it is no larger), kept
    in memory under a key of its own; below ``PROXY_BASE``, from the (kept) proxy of
    that size."""
    if value is None or long_side is None or value.size is None:
        return value
    h, w = value.size
    if max(h, w) <= long_side:
        return value
    if long_side < PROXY_BASE < max(h, w):
        base = proxy_input(cache, value, key, PROXY_BASE)
        return proxy_input(cache, base, digest(key or "", "proxy-base"), long_side)
    scale = long_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    proxy_key = digest(key or "", "proxy-input", f"{size[0]}x{size[1]}")
    cached, _ = cache.get(proxy_key)
    if cached is not None:
        return cached
    small = value.resized(*size)
    cache.put(proxy_key, small, persist=False)
    return small


def store_outputs(
    cache: SlotCache,
    step: Step,
    outputs: dict[str, Slot],
    seconds: float,
    written_only: frozenset[str],
) -> None:
    """Throwaway preview results (a proxy here, or proxy inputs from upstream) must
    not fill the disk store on every knob step; the rest goes to disk if it pays
    (``cache.worth_persisting``: model outputs and what a writer wrote; otherwise
    only if computing took longer than storing and reading back would; never what only
    writers read: the nodes of ``written_only``)."""
    spec, keys = step.spec, step.out_keys
    if cache.disk is None:  # memory only: nothing to weigh, so straight into memory
        memory, transient = cache.memory, not step.kept
        for name, slot in outputs.items():
            memory.put(keys[name], slot, transient=transient)
        return
    expensive = spec.identity is not None or spec.writes_files
    written = step.node_id in written_only
    for name, slot in outputs.items():
        cache.put(
            keys[name],
            slot,
            persist=step.kept,
            seconds=seconds / len(outputs),
            expensive=expensive,
            written=written,
        )
