"""File › Render batch… with 2 local workers: per-image progress, the same files as one
worker, and cancel."""

from __future__ import annotations

import shutil

import pytest

from .conftest import IMAGES

pytestmark = pytest.mark.slow


def test_render_batch_on_two_workers(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.doc.add_node("source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo")
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("scene.png", "coffee.png", "astronaut.png"):
        shutil.copy(IMAGES / name, folder / name)
    results = {}
    for workers in (1, 2):
        steps: list[tuple[int, int, str]] = []
        done: list = []
        out = tmp_path / f"out{workers}"
        job = w.batch.start(str(folder), str(out), "photo", modal=False, workers=workers)
        assert job is not None
        job.progress.connect(lambda i, n, name, s=steps: s.append((i, n, name)))
        job.done.connect(lambda r, e, d=done: d.append((r, e)))
        job.wait(120)
        qtbot.waitUntil(lambda d=done: bool(d), timeout=20000)
        reports, error = done[0]
        assert error == "" and [r.status for r in reports] == ["ok"] * 3
        results[workers] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        if workers == 2:  # one step per finished image, each named
            assert steps[-1][0] == 3 and {s[2] for s in steps if s[0] > 0} == {
                "scene.png",
                "coffee.png",
                "astronaut.png",
            }
    assert len(results[1]) == 3 and results[1] == results[2]
