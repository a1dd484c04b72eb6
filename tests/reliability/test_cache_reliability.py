"""The cache's promises under abuse: swapped and corrupted entries are misses (the output
is recomputed byte for byte), the size limit holds across runs, concurrent renders and a
``kill -9`` never break an output, a read-only cache or a full disk never fails a render
that could succeed."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.cli import main
from gateway_studio.engine import DiskStore, Field
from gateway_studio.engine.cache import STALE_TEMP_SECONDS

from .conftest import EXE, IMAGES, limit_file_size, run_cli, write_patch


@pytest.fixture(autouse=True)
def _keep_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests damage, swap and count entries: keep every node's result on disk
    (by default cheap nodes stay in memory only, see ``cache.worth_persisting``)."""
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")


def fog_patch(folder: Path, export: str = "fog.png") -> Path:
    """photo + depth → band → atmosphere → export: four cached nodes of three slot types."""
    return write_patch(
        folder,
        [
            {"id": "photo", "type": "source.image", "params": {"path": str(IMAGES / "scene.png")}},
            {
                "id": "depth",
                "type": "depth.from_file",
                "params": {"path": str(IMAGES / "scene_depth.png")},
            },
            {"id": "band", "type": "field.remap", "params": {"band_centre": 0.4}},
            {"id": "fog", "type": "modulate.atmosphere", "params": {}},
            # the pixels' bytes, not the patch each folder embeds (paths relative to it)
            {
                "id": "export",
                "type": "output.export",
                "params": {"path": export, "provenance": "none"},
            },
        ],
        [
            ("depth.depth", "band.source"),
            ("photo.image", "fog.image"),
            ("band.field", "fog.depth"),
            ("fog.image", "export.source"),
        ],
    )


def entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.slot"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The fog render from an empty cache of its own."""
    folder = tmp_path_factory.mktemp("reference")
    patch = fog_patch(folder)
    run = run_cli("render", str(patch), env={"GATEWAY_STUDIO_CACHE": str(folder / "cache")})
    assert run.code == 0, run.stderr
    return (folder / "fog.png").read_bytes()


def render_in_process(patch: Path, cache: Path) -> int:
    return main(["render", str(patch), "--cache-dir", str(cache)])


@pytest.mark.parametrize("damage", ["swap", "copy_over", "flip", "truncate", "empty", "old_format"])
def test_a_damaged_or_misplaced_entry_is_recomputed_byte_identical(
    tmp_path: Path, reference: bytes, damage: str
) -> None:
    cache = tmp_path / "cache"
    patch = fog_patch(tmp_path)
    assert render_in_process(patch, cache) == 0
    files = entries(cache)
    assert len(files) >= 5
    a, b = files[0], files[-1]
    if damage == "swap":  # every entry gets another's bytes
        datas = [f.read_bytes() for f in files]
        for f, data in zip(files, datas[1:] + datas[:1], strict=True):
            f.write_bytes(data)
    elif damage == "copy_over":
        shutil.copy(b, a)
    elif damage == "flip":
        raw = bytearray(a.read_bytes())
        raw[len(raw) // 2] ^= 0x40
        a.write_bytes(bytes(raw))
    elif damage == "truncate":
        a.write_bytes(a.read_bytes()[:100])
    elif damage == "empty":
        a.write_bytes(b"")
    else:  # an entry of the previous format (no key recorded) under this key's name
        a.write_bytes(b"GWSLOT1\n" + a.read_bytes()[len(b"GWSLOT2\n") + 41 :])
    (tmp_path / "fog.png").unlink()
    assert render_in_process(patch, cache) == 0
    assert (tmp_path / "fog.png").read_bytes() == reference


def test_a_swapped_entry_is_a_miss_never_another_keys_slot(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    store.put("aa" + "1" * 38, Field(np.full((4, 4), 0.25, np.float32)))
    store.put("bb" + "2" * 38, Field(np.full((4, 4), 0.75, np.float32)))
    shutil.copy(store.path("bb" + "2" * 38), store.path("aa" + "1" * 38))
    assert store.get("aa" + "1" * 38) is None  # the file says it belongs to bb…
    assert not store.path("aa" + "1" * 38).exists()
    assert float(store.get("bb" + "2" * 38).values[0, 0]) == 0.75  # type: ignore[union-attr]


def test_thirty_renders_keep_the_cache_within_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = int(0.01 * 2**30)
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_MAX_GB", "0.01")
    cache = tmp_path / "cache"
    patch = fog_patch(tmp_path)
    largest = 0
    for i in range(30):
        code = main(
            ["render", str(patch), "--cache-dir", str(cache), "--set", f"band.gamma={1 + i / 10}"]
        )
        assert code == 0
        sizes = [f.stat().st_size for f in entries(cache)]
        largest = max([largest, *sizes])
        assert sum(sizes) <= limit + largest, (i, sum(sizes))
    print(f"30 renders: cache {sum(sizes) / 2**20:.1f} MiB, limit {limit / 2**20:.1f} MiB")
    # least recently used out first: the last render's own entries are still there
    assert main(["render", str(patch), "--cache-dir", str(cache), "--set", "band.gamma=3.9"]) == 0


def test_temp_files_of_dead_writers_are_swept_up(tmp_path: Path) -> None:
    store = DiskStore(tmp_path, max_bytes=1 << 30)
    (tmp_path / "ab").mkdir()
    dead = tmp_path / "ab" / "tmpdead.tmp"
    dead.write_bytes(b"x" * 1000)
    old = time.time() - STALE_TEMP_SECONDS - 10
    os.utime(dead, (old, old))
    fresh = tmp_path / "ab" / "tmpbusy.tmp"  # a writer still at work
    fresh.write_bytes(b"y")
    store.prune()
    assert not dead.exists() and fresh.exists()


def test_two_concurrent_renders_on_one_cache(tmp_path: Path, reference: bytes) -> None:
    env = {**os.environ, "GATEWAY_STUDIO_CACHE": str(tmp_path / "cache")}
    patches = [fog_patch(tmp_path / name) for name in ("a", "b")]
    procs = [
        subprocess.Popen([EXE, "render", str(p)], env=env, stderr=subprocess.PIPE) for p in patches
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    for p in patches:
        assert (p.parent / "fog.png").read_bytes() == reference
    run = run_cli("render", str(patches[0]), "--report", "-", env=env)
    assert run.code == 0 and '"computed"' not in run.stdout  # all cached now


def test_kill_9_mid_render_then_an_identical_rerun(tmp_path: Path, reference: bytes) -> None:
    env = {**os.environ, "GATEWAY_STUDIO_CACHE": str(tmp_path / "cache")}
    patch = fog_patch(tmp_path)
    for delay in (0.6, 0.9, 1.2):  # during imports, mid-graph, while writing
        proc = subprocess.Popen([EXE, "render", str(patch)], env=env, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        with contextlib.suppress(FileNotFoundError):
            (tmp_path / "fog.png").unlink()
        run = run_cli("render", str(patch), env=env)
        assert run.code == 0, run.stderr
        assert (tmp_path / "fog.png").read_bytes() == reference
        assert not list(tmp_path.glob(".fog.png*"))  # no half-written output beside it


@contextlib.contextmanager
def read_only(folders: list[Path]) -> Iterator[None]:
    """Folders nobody can create or delete files in: ``chmod a-w``, or for root (whom
    permissions do not stop) the immutable attribute."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = subprocess.run(["chattr", "+i", *map(str, folders)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", *map(str, folders)], check=True)
    else:
        modes = {f: f.stat().st_mode for f in folders}
        for f in folders:
            f.chmod(stat.S_IMODE(modes[f]) & ~0o222)
        try:
            yield
        finally:
            for f, mode in modes.items():
                f.chmod(stat.S_IMODE(mode))


def test_a_read_only_cache_still_renders_and_still_hits(tmp_path: Path, reference: bytes) -> None:
    env = {"GATEWAY_STUDIO_CACHE": str(tmp_path / "cache")}
    patch = fog_patch(tmp_path)
    assert run_cli("render", str(patch), env=env).code == 0
    cache = tmp_path / "cache"
    before = {f: f.read_bytes() for f in entries(cache)}
    (tmp_path / "fog.png").unlink()
    other = tmp_path / "other"  # a patch with new keys: every write to the cache fails
    other_patch = fog_patch(other)
    other_patch.write_text(other_patch.read_text().replace("0.4", "0.6"))
    with read_only([cache, *[d for d in cache.iterdir() if d.is_dir()]]):
        run = run_cli("render", str(patch), "--report", "-", env=env)
        assert run.code == 0, run.stderr
        assert '"cached"' in run.stdout  # what was there is still used
        assert run_cli("render", str(other_patch), env=env).code == 0
    assert (tmp_path / "fog.png").read_bytes() == reference
    assert {f: f.read_bytes() for f in entries(cache)} == before


def test_a_full_disk_fails_the_export_cleanly_and_keeps_the_old_file(tmp_path: Path) -> None:
    """RLIMIT_FSIZE of 16 KB: every cache entry and the picture are too large."""
    env = {"GATEWAY_STUDIO_CACHE": str(tmp_path / "cache")}
    patch = fog_patch(tmp_path)
    (tmp_path / "fog.png").write_bytes(b"the previous render")
    run = run_cli("render", str(patch), env=env, preexec=limit_file_size(16 << 10))
    assert run.code == 1, run.stderr
    assert "cannot write" in run.stderr and "fog.png" in run.stderr
    assert (tmp_path / "fog.png").read_bytes() == b"the previous render"
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert all(f.stat().st_size > 0 for f in entries(tmp_path / "cache"))  # none half-written
