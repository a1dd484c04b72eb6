"""The rules themselves, in process: what the read check, the write consent, the size cap
and the settings decide, one case at a time (the other files run them end to end)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import (
    Context,
    Evaluator,
    Field,
    ImageReadError,
    Link,
    PatchGraph,
    default_registry,
    limits,
    patch_from_dict,
    paths,
)
from gateway_studio.engine.consent import (
    WriteConsent,
    WriteGuard,
    WriteRefused,
    outside_writes,
    overwritten_reads,
)
from gateway_studio.engine.keys import FileFingerprints, fingerprint_file
from gateway_studio.engine.paths import PathRefused


def export_graph(folder: Path, target: str, *, restricted: bool = True) -> PatchGraph:
    data = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {"id": "f", "type": "source.sample", "params": {}},
            {"id": "e", "type": "output.export", "params": {"path": target}},
        ],
        "links": [{"from": "f.image", "to": "e.source"}],
    }
    graph = patch_from_dict(data, base_dir=folder)
    if not restricted:
        graph.write_consent = WriteConsent()
    return graph


def test_consent_covers_the_folder_named_files_and_folders(tmp_path: Path) -> None:
    graph = export_graph(tmp_path / "p", str(tmp_path / "out" / "x.png"))
    assert graph.write_consent.restricted
    assert outside_writes(graph) == [("e.path", tmp_path / "out" / "x.png")]
    for consent in (
        graph.write_consent.allow_folder(tmp_path / "out"),
        graph.write_consent.allow_file(tmp_path / "out" / "x.png"),
        graph.write_consent.allow_anywhere(),
    ):
        graph.write_consent = consent
        assert outside_writes(graph) == []
    code_built = export_graph(tmp_path / "p", "/anywhere/x.png", restricted=False)
    assert outside_writes(code_built) == []  # written in code: writes where it says
    assert outside_writes(code_built, strict=True) == [("e.path", Path("/anywhere/x.png"))]
    code_built.node("e").bypass = True  # a bypassed sink writes nothing
    assert outside_writes(code_built, strict=True) == []


def test_the_guard_refuses_at_write_time_too(tmp_path: Path) -> None:
    """Even a graph that skipped the command line's checks cannot write outside, or onto
    its own input: the export node's Context asks the guard."""
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"not really")
    graph = export_graph(tmp_path, "../elsewhere.png")
    result = Evaluator().evaluate(graph).results["e"]
    assert result.status == "failed" and "refused to write" in (result.error or "")
    assert "--allow-write-outside" in (result.error or "")
    assert not (tmp_path.parent / "elsewhere.png").exists()
    graph = PatchGraph(default_registry(), base_dir=None)
    graph.add_node("source.image", {"path": str(photo)}, node_id="photo")
    graph.add_node("output.export", {"path": str(photo)}, node_id="e")
    graph.connect(Link("photo", "image", "e", "source"))
    assert overwritten_reads(graph) == [("e.path", photo, "photo.path")]
    guard = WriteGuard(graph)
    with pytest.raises(WriteRefused, match="would overwrite"):
        guard.check(photo, "e.path")
    unsaved = WriteGuard(export_graph(tmp_path, "x.png"))
    unsaved.base_dir = None
    with pytest.raises(WriteRefused, match="none: the patch is unsaved"):
        unsaved.check(tmp_path / "x.png", "e.path")


def test_context_resolves_reads_and_writes(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    ctx = Context(base_dir=tmp_path)
    with pytest.raises(PathRefused, match="FIFO"):
        ctx.resolve_path("pipe")
    assert ctx.resolve_path("sub/../a.png") == tmp_path / "a.png"
    assert ctx.resolve_path(str(tmp_path)) == tmp_path  # folders pass (model folders)
    assert ctx.resolve_save_path("/elsewhere/x.png") == Path("/elsewhere/x.png")  # no guard


def test_fingerprints_refuse_stream_and_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(os.urandom(3 << 20))
    fps = FileFingerprints()
    first = fps.of(f)
    assert fps.of(f) == first == fingerprint_file(f)  # remembered per (path, size, mtime)
    calls = []
    with pytest.raises(Exception, match="cancelled"):
        fingerprint_file(f, cancelled=lambda: calls.append(1) or True)
    assert len(calls) == 1  # checked after the first 1 MiB chunk
    monkeypatch.setenv(limits.IMAGE_BUDGET_ENV, "1")  # 1 MiB cap
    with pytest.raises(PathRefused, match=r"3\.0 MB, larger than the image memory budget"):
        FileFingerprints().of(f)
    (tmp_path / "locked").mkdir()
    assert fps.of(tmp_path / "locked" / "none").startswith("missing:")
    assert fingerprint_file(tmp_path / "none").startswith("missing:")
    with pytest.raises(PathRefused, match="cannot read it"):
        fps.of(Path("a\x00b"))


def test_a_file_that_grows_past_the_cap_while_read_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stat`` said small (as /proc files do); what is read is counted too."""
    f = tmp_path / "liar.bin"
    f.write_bytes(b"x" * (3 << 20))
    monkeypatch.setenv(limits.IMAGE_BUDGET_ENV, "1")
    real_fstat = os.fstat

    def small(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, *st[1:6], 10, *st[7:]))

    monkeypatch.setattr(os, "fstat", small)
    with pytest.raises(PathRefused, match="larger than the image memory budget"):
        fingerprint_file(f)


def test_open_regular_checks_the_open_descriptor_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    with paths.open_regular(f) as fh:
        assert fh.read() == b"x"
    real_fstat = os.fstat

    def swapped(fd: int) -> os.stat_result:  # a FIFO swapped in after the stat
        st = real_fstat(fd)
        return os.stat_result((stat.S_IFIFO | 0o644, *st[1:]))

    monkeypatch.setattr(os, "fstat", swapped)
    with pytest.raises(PathRefused, match="FIFO"):
        paths.open_regular(f)
    assert paths.file_kind(stat.S_IFREG) == "a regular file"
    assert paths.path_problem("a" * 5000) == "is 5000 bytes long; paths are limited to 4096"
    assert paths.path_problem("ok/name.png") is None


def test_settings_and_the_budget(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(limits.IMAGE_BUDGET_ENV, "64")
    assert limits.image_budget_bytes() == 64 << 20
    with pytest.raises(ImageReadError, match=r"x\.png: refused, a 4000×3000 image"):
        limits.check_image_budget(tmp_path / "x.png", 4000, 3000, 3, 1)
    limits.check_image_budget(tmp_path / "x.png", 1000, 1000, 3, 1)  # 39 MB: fits
    monkeypatch.setenv(limits.IMAGE_BUDGET_ENV, "0")
    with pytest.raises(limits.SettingError, match="expected a positive number of MiB"):
        limits.check_settings()
    monkeypatch.delenv(limits.IMAGE_BUDGET_ENV)
    monkeypatch.setenv(limits.CACHE_MAX_ENV, "0")  # 0: nothing on disk, and that is valid
    assert limits.cache_max_bytes() == 0
    monkeypatch.setattr(limits, "_cgroup_limit", lambda: 2 << 30)
    assert limits.physical_memory() == 2 << 30
    assert limits.image_budget_bytes() == (2 << 30) // 4
    assert limits.describe_bytes(512) == "512 bytes" and limits.describe_bytes(2048) == "2.0 KB"


def test_cgroup_limits_are_read_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "/sys/fs/cgroup/memory.max": "max\n",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n",
    }
    real = Path.read_text

    def fake(self: Path, *args: object, **kwargs: object) -> str:
        if str(self) in files:
            return files[str(self)]
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", fake)
    assert limits._cgroup_limit() == 1 << 30  # v2 says "max": no limit there; v1 has one


def test_a_zero_cache_keeps_nothing_on_disk(tmp_path: Path) -> None:
    from gateway_studio.engine import DiskStore

    store = DiskStore(tmp_path, max_bytes=0)
    assert store.put("ab" + "c" * 38, Field(np.zeros((4, 4), np.float32))) is False
    assert store.size() == 0
