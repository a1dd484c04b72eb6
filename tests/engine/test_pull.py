"""Pulled evaluations (the command line's): when the ends are cached, nothing upstream
is read; a lazy hit that has gone is recomputed when it is needed after all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway_studio.engine import Evaluator, Link, PatchGraph, Slot, SlotCache

from .fake_nodes import registry


def chain_graph(length: int) -> PatchGraph:
    """test.const → test.add → ... (``length`` nodes in a line)."""
    graph = PatchGraph(registry())
    graph.add_node("test.const", node_id="n0")
    for i in range(1, length):
        graph.add_node("test.add", {"gain": 0.9}, node_id=f"n{i}")
        graph.connect(Link(f"n{i - 1}", "field", f"n{i}", "a"))
    return graph


class CountingCache(SlotCache):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def load(self, key: str) -> Slot | None:
        """Every disk read goes through here (``get`` too)."""
        self.reads.append(key)
        return super().load(key)


@pytest.fixture
def keep_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """These fake nodes are cheaper than a disk entry: keep them on disk anyway."""
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")


@pytest.mark.usefixtures("keep_all")
def test_cached_end_reads_nothing_upstream(tmp_path: Path) -> None:
    graph = chain_graph(5)
    Evaluator(SlotCache(tmp_path)).evaluate(graph)  # fills the disk store
    cache = CountingCache(tmp_path)
    result = Evaluator(cache).evaluate(graph, pull=True)
    assert result.ok
    lazy = [n for n, r in result.results.items() if r.lazy]
    ends = [n for n, r in result.results.items() if not r.lazy]
    assert len(ends) == 1 and len(lazy) == 4  # only the end of the chain was read
    assert len(cache.reads) == 1
    # asking for an unread node reads it then
    first = lazy[0]
    assert result.output(first) is not None and not result.results[first].lazy


def test_unpulled_evaluation_reads_every_node(tmp_path: Path) -> None:
    graph = chain_graph(5)
    Evaluator(SlotCache(tmp_path)).evaluate(graph)
    cache = CountingCache(tmp_path)
    Evaluator(cache).evaluate(graph)
    assert len(cache.reads) == 5


@pytest.mark.usefixtures("keep_all")
def test_vanished_entry_is_recomputed_when_needed(tmp_path: Path) -> None:
    graph = chain_graph(4)
    first = Evaluator(SlotCache(tmp_path)).evaluate(graph)
    end = list(first.results)[-1]
    before_end = list(first.results)[-2]
    for key in first.results[end].keys.values():  # the end must be recomputed...
        (tmp_path / key[:2] / f"{key}.slot").unlink()
    for key in first.results[before_end].keys.values():  # ...from an input that has gone
        (tmp_path / key[:2] / f"{key}.slot").unlink()
    again = Evaluator(SlotCache(tmp_path)).evaluate(graph, pull=True)
    assert again.ok
    assert again.results[end].status == "computed"
    assert again.results[before_end].status == "computed"
    assert again.output(end) is not None


def test_fingerprints_are_remembered_across_processes_by_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_studio.engine import keys

    photo = tmp_path / "photo.bin"
    photo.write_bytes(b"a" * 4096)
    first = keys.FileFingerprints(tmp_path / "index").of(photo)
    hashed: list[Path] = []
    real = keys.fingerprint_file

    def counting(path: Path, **kw: object) -> str:
        hashed.append(path)
        return real(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(keys, "fingerprint_file", counting)
    again = keys.FileFingerprints(tmp_path / "index").of(photo)  # a new process's view
    assert again == first and hashed == []
    # new bytes of the same size with the old mtime put back: the ctime still moves
    stat = photo.stat()
    photo.write_bytes(b"b" * 4096)
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = keys.FileFingerprints(tmp_path / "index").of(photo)
    assert changed != first and hashed == [photo]


def test_the_persistence_policy() -> None:
    from gateway_studio.engine.cache import worth_persisting

    rates = {"write_rate": 250e6, "read_rate": 500e6, "entry_seconds": 5e-4}
    frame = 400 << 20  # an 8K float frame: 2.5 s to store and read back at these rates
    assert worth_persisting(seconds=0.0, nbytes=frame, expensive=True, **rates)  # a model
    assert not worth_persisting(seconds=0.5, nbytes=frame, expensive=False, **rates)
    assert worth_persisting(seconds=5.0, nbytes=frame, expensive=False, **rates)
    # a tiny slot still costs a file written, then opened and checked: ~0.5 ms here
    assert not worth_persisting(seconds=1e-5, nbytes=64, expensive=False, **rates)
    assert worth_persisting(seconds=2e-3, nbytes=64, expensive=False, **rates)


def test_keep_all_setting_persists_cheap_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_studio.engine.limits import SettingError

    graph = chain_graph(3)
    for folder in ("auto", "all"):
        if folder == "all":
            monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")
        cache = SlotCache(tmp_path / folder)
        assert cache.disk is not None
        cache.disk.put_seconds = 0.1  # an entry costs more than any of these nodes takes
        Evaluator(cache).evaluate(graph)
    count = {d: len(list((tmp_path / d).rglob("*.slot"))) for d in ("auto", "all")}
    assert count == {"auto": 0, "all": 3}  # 8x8 fields: cheaper to compute than to read
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "sometimes")
    with pytest.raises(SettingError, match="GATEWAY_STUDIO_CACHE_KEEP"):
        SlotCache(tmp_path / "bad")


def test_what_only_writers_read_is_not_stored_twice(tmp_path: Path) -> None:
    """The picture an export saves is on disk already, in the exported file: it is not
    stored again as a (much larger) cache entry. Its other results still are."""
    import numpy as np

    from gateway_studio.engine import Image, default_registry
    from gateway_studio.engine.cache import worth_persisting
    from gateway_studio.engine.imageio import write_image

    rates = {"write_rate": 250e6, "read_rate": 500e6, "entry_seconds": 5e-4}
    assert not worth_persisting(
        seconds=60.0, nbytes=1 << 20, expensive=False, written=True, **rates
    )
    assert worth_persisting(seconds=0.0, nbytes=1 << 20, expensive=True, written=True, **rates)

    write_image(tmp_path / "p.png", Image(np.random.default_rng(0).random((40, 60, 3), np.float32)))
    graph = PatchGraph(default_registry(), base_dir=tmp_path)
    graph.add_node("source.image", {"path": "p.png"}, node_id="photo")
    graph.add_node("util.reroute_image", node_id="look")
    graph.add_node("output.export", {"path": "out.png"}, node_id="save")
    graph.connect(Link("photo", "image", "look", "value"))
    graph.connect(Link("look", "value", "save", "source"))
    assert graph.plan().written_only == frozenset({"look"})

    def stored(folder: str) -> set[str]:
        cache = SlotCache(tmp_path / folder)
        assert cache.disk is not None  # every result pays by time at these rates
        cache.disk.write_rate = cache.disk.read_rate = 1e18
        cache.disk.put_seconds = cache.disk.get_seconds = 0.0
        cache.disk._measured = lambda *measured: None  # type: ignore[method-assign]
        run = Evaluator(cache).evaluate(graph, strict=True)
        assert run.ok, run.report()
        disk = cache.disk
        return {
            n
            for n, r in run.results.items()
            if any(disk.path(k).is_file() for k in r.keys.values())
        }

    assert stored("a") == {"photo", "save"}
    graph.add_node("util.reroute_image", node_id="viewer")  # another reader, not a writer
    graph.connect(Link("look", "value", "viewer", "value"))
    assert graph.plan().written_only == frozenset()
    assert stored("b") == {"photo", "look", "viewer", "save"}
