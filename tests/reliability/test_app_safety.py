"""The same promises in the app: a hostile source never blocks the evaluation worker,
cancel returns within a second even while a huge file is hashed, File › Render asks once
before writing outside the patch's folder, and a timer keeps the cache within its limit."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway_studio.engine import (
    CancelToken,
    DiskStore,
    Evaluator,
    Field,
    PatchGraph,
    SlotCache,
    default_registry,
)

from .conftest import IMAGES, photo_patch, write_patch


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    monkeypatch.setenv("GATEWAY_STUDIO_CACHE", str(tmp_path / "cache"))
    w = MainWindow(
        evaluator=Evaluator(SlotCache(None)),
        session=Session(tmp_path / "config"),
        autosave_seconds=3600,
    )
    w.errors = []
    w.messages = []
    w.show_error = lambda title, text: w.errors.append((title, text))
    real_message = w.show_message
    w.show_message = lambda text, *a: (w.messages.append(text), real_message(text, *a))
    qtbot.addWidget(w)
    yield w
    w.shutdown()


def evaluated(qtbot: Any, window: Any, path: Path) -> Any:
    """Open ``path`` and wait for the evaluation it starts; the response."""
    with qtbot.waitSignal(window.controller.evaluated, timeout=10_000) as blocker:
        window.doc.open(path)
    return blocker.args[0]


def test_a_fifo_source_leaves_the_worker_usable(qtbot: Any, window: Any, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "photo.png")
    t0 = time.perf_counter()
    response = evaluated(qtbot, window, photo_patch(tmp_path, "photo.png", name="fifo.json"))
    assert time.perf_counter() - t0 < 5
    assert "is a FIFO (named pipe)" in (response.results["photo"].error or "")
    (tmp_path / "ok").mkdir()
    good = photo_patch(tmp_path / "ok", str(IMAGES / "scene.png"))
    response = evaluated(qtbot, window, good)  # the next patch evaluates as usual
    assert response.results["photo"].status == "computed"


def test_a_nul_byte_in_a_path_is_shown_when_opening(window: Any, tmp_path: Path) -> None:
    patch = photo_patch(tmp_path, "sce\x00ne.png")
    assert window.files.open_path(patch, ask=False) is False
    title, text = window.errors[-1]
    assert title == "Cannot open the patch"
    assert "nodes[0].params.path: the path contains a NUL byte" in text


@pytest.fixture
def huge_file(tmp_path: Path) -> Path:
    """A 4 GB sparse file: hashing it takes seconds; creating it takes nothing."""
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.truncate(4 << 30)
    return path


def test_cancel_returns_within_a_second_while_a_huge_file_is_hashed(huge_file: Path) -> None:
    graph = PatchGraph(default_registry())
    graph.add_node("source.image", {"path": str(huge_file)}, node_id="photo")
    token = CancelToken()
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(Evaluator().evaluate(graph, cancel=token)))
    worker.start()
    time.sleep(0.3)
    assert not done, "the 4 GB file was hashed too fast to test cancelling"
    t0 = time.perf_counter()
    token.cancel()
    worker.join(5)
    waited = time.perf_counter() - t0
    assert done and done[0].cancelled and waited < 1.0, waited
    print(f"cancel while hashing 4 GB: returned after {waited * 1000:.0f} ms")


def test_the_apps_worker_cancels_within_a_second(qtbot: Any, huge_file: Path) -> None:
    from gateway_studio.ui.worker import EvalRequest, EvalWorker

    worker = EvalWorker(Evaluator(SlotCache(None)))
    try:
        graph = PatchGraph(default_registry())
        graph.add_node("source.image", {"path": str(huge_file)}, node_id="photo")
        with qtbot.waitSignal(worker.started, timeout=5000):
            worker.submit(EvalRequest(graph, ("photo",)))
        time.sleep(0.3)
        t0 = time.perf_counter()
        with qtbot.waitSignal(worker.finished, timeout=5000) as blocker:
            worker.cancel()
        assert time.perf_counter() - t0 < 1.0
        assert blocker.args[0].cancelled
    finally:
        worker.shutdown()


def outside_patch(folder: Path, target: Path) -> Path:
    return write_patch(
        folder,
        [
            {"id": "sample", "type": "source.sample", "params": {}},
            {"id": "out", "type": "output.export", "params": {"path": str(target)}},
            {"id": "inside", "type": "output.export", "params": {"path": "inside.png"}},
        ],
        [("sample.image", "out.source"), ("sample.image", "inside.source")],
    )


def test_render_asks_once_before_writing_outside_the_patch_folder(
    qtbot: Any, window: Any, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere" / "x.png"
    window.doc.open(outside_patch(tmp_path / "patch", target))
    asked: list[list[tuple[str, Path]]] = []
    answer = [False]

    def ask(folder: Path | None, targets: list[tuple[str, Path]]) -> bool:
        asked.append(list(targets))
        return answer[0]

    window.renderer.ask_consent = ask
    assert window.renderer.render() is None  # declined: nothing at all is written
    assert asked == [[("out.path", target)]]
    assert not target.exists() and not (tmp_path / "patch" / "inside.png").exists()
    answer[0] = True
    job = window.renderer.render()
    with qtbot.waitSignal(job.done, timeout=20_000) as blocker:
        pass
    assert blocker.args[1] == "", blocker.args[1]
    assert target.is_file() and (tmp_path / "patch" / "inside.png").is_file()
    job = window.renderer.render()  # the same patch again: not asked twice
    # all cached, the job may finish before a waitSignal could connect: join its thread
    job.wait(20.0)
    assert not job.is_alive()
    assert len(asked) == 2
    assert window.renderer.action in window.menuBar().actions()[0].menu().actions()


def test_render_refuses_to_write_over_what_the_patch_reads(window: Any, tmp_path: Path) -> None:
    photo = tmp_path / "scene.png"
    photo.write_bytes((IMAGES / "scene.png").read_bytes())
    window.doc.open(photo_patch(tmp_path, "scene.png", "scene.png"))
    assert window.renderer.render() is None
    assert window.errors and "would overwrite" in window.errors[0][1]
    assert photo.read_bytes() == (IMAGES / "scene.png").read_bytes()


def test_the_app_prunes_the_cache_on_a_timer(qtbot: Any, tmp_path: Path) -> None:
    from gateway_studio.ui.cache_pruner import CachePruner

    cache = SlotCache(tmp_path)
    cache.disk = DiskStore(tmp_path, max_bytes=1 << 40)  # let it grow past what we set next
    for i in range(6):
        cache.put(f"{i:02d}" + "k" * 38, Field(np.full((64, 64), i / 10, np.float32)))
    cache.disk.max_bytes = cache.disk.size() // 2
    pruner = CachePruner(cache, interval=0.05)
    qtbot.waitUntil(lambda: cache.disk is not None and cache.disk.size() <= cache.disk.max_bytes)
    pruner.timer.stop()
    assert pruner._thread is not None
    pruner._thread.join(5)
