"""Memory LRU bounded by bytes; disk store survives restarts and shrugs off corruption."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import (
    DiskStore,
    Evaluator,
    Face,
    Faces,
    Field,
    Link,
    MemoryCache,
    PatchGraph,
    SlotCache,
)
from gateway_studio.engine.keys import FileFingerprints, default_cache_dir, fingerprint_file
from gateway_studio.engine.paths import PathRefused

from .fake_nodes import registry


def field(value: float, n: int = 16) -> Field:
    return Field(np.full((n, n), value, np.float32))


def test_memory_lru_is_bounded_by_bytes() -> None:
    one = field(0.1).nbytes
    cache = MemoryCache(max_bytes=3 * one)
    for i in range(3):
        cache.put(f"k{i}", field(i / 10))
    assert cache.get("k0") is not None  # k0 is now most recent
    cache.put("k3", field(0.3))
    assert cache.get("k1") is None and cache.get("k0") is not None
    assert len(cache) == 3 and cache.nbytes == 3 * one
    cache.put("huge", field(0.5, n=64))  # larger than the whole budget: not kept
    assert cache.get("huge") is None
    cache.put("k3", field(0.9))  # replace keeps the byte count right
    assert cache.nbytes == 3 * one
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_memory_lru_is_bounded_by_entries_too() -> None:
    """Tiny slots far under the byte limit still evict, oldest first: their number is
    what costs (every entry is objects the garbage collector walks)."""
    cache = MemoryCache(max_bytes=1 << 30, max_entries=4)
    for i in range(6):
        cache.put(f"k{i}", field(i / 10, n=2))
    assert len(cache) == 4
    assert cache.get("k0") is None and cache.get("k1") is None
    assert cache.get("k5") is not None and cache.nbytes == 4 * field(0.0, n=2).nbytes


def test_disk_store_round_trip_and_corruption(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    assert store.put("abcdef", field(0.25))
    got = store.get("abcdef")
    assert isinstance(got, Field) and float(got.values[0, 0]) == 0.25
    path = store.path("abcdef")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    assert store.get("abcdef") is None and not path.exists()
    store.put("abcdef", field(0.25))
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(raw))
    assert store.get("abcdef") is None
    path.write_bytes(b"garbage")
    assert store.get("abcdef") is None
    assert store.get("missing") is None


def test_disk_failure_is_never_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert DiskStore(blocker).put("abcdef", field(0.1)) is False


def test_slot_cache_memory_then_disk(tmp_path: Path) -> None:
    cache = SlotCache(tmp_path)
    cache.put("k1", field(0.5))
    assert cache.get("k1")[1] == "memory"
    fresh = SlotCache(tmp_path)  # a new process
    slot, where = fresh.get("k1")
    assert where == "disk" and isinstance(slot, Field)
    assert fresh.get("k1")[1] == "memory"
    assert fresh.get("nope") == (None, "miss")
    assert SlotCache(None).get("k1") == (None, "miss")
    assert fresh.info()["memory_entries"] == 1


def test_truncated_entry_is_recomputed_by_the_evaluator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")  # cheap fake nodes on disk too
    g = PatchGraph(registry())
    g.add_node("test.const", node_id="a")
    g.add_node("test.add", node_id="b")
    g.connect(Link("a", "field", "b", "a"))
    Evaluator(SlotCache(tmp_path)).evaluate(g)
    for entry in tmp_path.rglob("*.slot"):
        entry.write_bytes(entry.read_bytes()[:20])
    result = Evaluator(SlotCache(tmp_path)).evaluate(g)
    assert result.ok and {r.status for r in result.results.values()} == {"computed"}
    again = Evaluator(SlotCache(tmp_path)).evaluate(g)
    assert {r.status for r in again.results.values()} == {"cached"}


def test_fingerprints(tmp_path: Path, monkeypatch: object) -> None:
    f = tmp_path / "x.bin"
    f.write_bytes(b"hello")
    fps = FileFingerprints()
    assert fps.of(f) == fingerprint_file(f) and fps.of(f).startswith("file:")
    assert fps.of(tmp_path / "none").startswith("missing:")
    with pytest.raises(PathRefused, match="is a folder, not a regular file"):
        fingerprint_file(tmp_path)  # refused before a byte is read
    import os

    os.environ["GATEWAY_STUDIO_CACHE"] = str(tmp_path / "c")
    assert default_cache_dir() == tmp_path / "c"


def test_disk_store_prunes_least_recently_used(tmp_path: Path) -> None:
    from gateway_studio.engine.slot_codec import entry_bytes

    one = len(entry_bytes(field(0.1), "aa1"))
    store = DiskStore(tmp_path, max_bytes=int(2.5 * one))  # every write is a quarter
    import os
    import time

    for i, key in enumerate(["aa1", "bb2"]):
        store.put(key, field(i / 10))
        os.utime(store.path(key), (time.time() - 100 + i, time.time() - 100 + i))
    assert store.get("aa1") is not None  # a hit makes aa1 the most recent
    store.put("cc3", field(0.3))
    assert store.path("aa1").exists() and store.path("cc3").exists()
    assert not store.path("bb2").exists()


def test_failed_disk_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway_studio.engine.cache as cache_module

    def disk_full(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", disk_full)
    assert DiskStore(tmp_path).put("abcdef", field(0.1)) is False
    assert list(tmp_path.rglob("*.tmp")) == []  # a full disk must not fill up further


def test_a_slot_the_disk_cannot_encode_is_kept_in_memory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numpy ints in Faces.image_size used to reach the JSON header and raise TypeError
    faces = Faces((Face((1.0, 2.0, 3.0, 4.0), 0.9),), (np.int64(30), np.int64(40)))
    cache = SlotCache(tmp_path)
    cache.put("k", faces)
    assert cache.get("k")[0] is faces
    assert SlotCache(tmp_path).get("k")[0] is not None  # and it now reaches the disk too
    import gateway_studio.engine.cache as cache_module

    def not_json(out: object, slot: object, key: str = "") -> int:
        raise TypeError("Object of type int64 is not JSON serializable")

    monkeypatch.setattr(cache_module, "write_entry", not_json)
    assert DiskStore(tmp_path).put("k2", faces) is False
    assert not list(tmp_path.glob("*/*.tmp"))  # its temp file went too


def test_small_preview_proxies_are_made_from_the_largest_one() -> None:
    """The UI shrinks a slow node's proxy mid-drag: each new size is cut from the kept
    PROXY_BASE proxy, never again from the full frame."""
    from gateway_studio.engine import Image, SlotCache
    from gateway_studio.engine.run_cache import PROXY_BASE, proxy_input

    cache = SlotCache(None)
    big = Image(np.random.default_rng(0).random((1500, 2000, 3), dtype=np.float32))
    calls: list[tuple[int, int]] = []
    resized = Image.resized

    def counting(self: Image, height: int, width: int) -> Image:
        calls.append(self.size)
        return resized(self, height, width)

    Image.resized = counting  # type: ignore[method-assign]
    try:
        small = proxy_input(cache, big, "k", 512)
        smaller = proxy_input(cache, big, "k", 256)
        again = proxy_input(cache, big, "k", 512)
    finally:
        Image.resized = resized  # type: ignore[method-assign]
    assert small is not None and small.size == (384, 512)
    assert smaller is not None and smaller.size == (192, 256)
    assert again is small  # kept
    base = (768, PROXY_BASE)
    assert calls == [(1500, 2000), base, base]  # the full frame was read once


def test_previews_live_in_a_small_pool_of_their_own() -> None:
    """A drag's per-step results (not persisted) recycle a small pool: they neither grow
    the cache step by step nor push full-resolution results out."""
    one = field(0.1).nbytes
    cache = MemoryCache(max_bytes=10 * one, transient_bytes=2 * one)
    for i in range(5):
        cache.put(f"full{i}", field(0.1))
    for i in range(20):
        cache.put(f"step{i}", field(0.2), transient=True)
    assert all(cache.get(f"full{i}") is not None for i in range(5))  # none pushed out
    assert cache.get("step19") is not None and cache.get("step18") is not None
    assert cache.get("step17") is None  # the pool holds two
    assert len(cache) == 7 and cache.nbytes == 7 * one
    cache.put("step19", field(0.3))  # kept for good now: moves out of the pool
    assert len(cache) == 7 and cache.nbytes == 7 * one


def test_a_lookup_without_the_lock_always_finds_an_entry_being_replaced_or_moved() -> None:
    """``MemoryCache.get`` takes no lock: ``put`` replaces an entry in place and adds one
    to its new pool before taking it out of the old, so a lookup between its steps (here:
    right after each removal from a pool's dict) still finds it."""
    from collections import OrderedDict

    cache = MemoryCache(max_bytes=1 << 20)
    first, second = field(0.1), field(0.2)
    cache.put("k", first, transient=True)
    seen: list[object] = []

    class Watching(OrderedDict):  # type: ignore[type-arg]
        def pop(self, key: str, *default: object) -> object:
            out = super().pop(key, *default)
            seen.append(cache.get("k"))  # a reader on another thread, mid-put
            return out

    for pool in (cache._kept, cache._transient):
        pool.items = Watching(pool.items)
    cache.put("k", second)  # moves to the kept pool
    cache.put("k", first)  # replaced in place
    assert len(seen) == 1 and seen[0] is not None  # (the move's one removal)
    assert cache.get("k") is first and len(cache) == 1 and cache.nbytes == first.nbytes
