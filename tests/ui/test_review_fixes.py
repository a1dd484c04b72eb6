"""Regressions found in review: a cancel that drops a queued request, batch thread safety."""

from __future__ import annotations

from pathlib import Path

from gateway_studio.engine import Registry

from .test_worker import SLOW_RUNS, ramp, slow


def test_cancel_with_a_queued_request_leaves_no_evaluation_hanging(qtbot, worker) -> None:  # type: ignore[no-untyped-def]
    """Esc while a newer request waits behind the running one: the queued request is
    dropped and never answers, so the controller must not keep waiting for it (the cancel
    button stayed on, nodes stayed 'computing' and background imports never started)."""
    from gateway_studio.ui.controller import EvalController
    from gateway_studio.ui.document import Document

    doc = Document(Registry([ramp, slow]))
    ctl = EvalController(doc, worker)
    SLOW_RUNS.clear()
    doc.add_node("test.ramp", node_id="ramp", position=(0, 0))
    doc.add_node("test.slow", {"seconds": 3.0}, node_id="slow", position=(300, 0))
    doc.link("ramp", "field", "slow", "source")
    qtbot.waitUntil(lambda: len(SLOW_RUNS) == 1, timeout=5000)
    # a newer request queued behind the running one (the running node is the same in it,
    # so it is only soft-cancelled and keeps running)
    doc.add_node("test.ramp", node_id="other", position=(0, 300))
    ctl.evaluate_now()
    assert worker.busy()
    ctl.cancel()
    qtbot.waitUntil(lambda: not worker.busy(), timeout=10000)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=3000)
    assert ctl.state("slow").status == "cancelled"


def test_batch_snapshots_the_graph_on_the_ui_thread(qtbot, window, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The batch job used to call ``doc.graph.snapshot()`` on its own thread, reading the
    live graph while the artist edits it."""
    import shutil
    import threading

    from gateway_studio.engine.batch import plan_batch

    from .conftest import IMAGES

    w = window
    w.doc.add_node(
        "source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo", position=(0, 0)
    )
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(IMAGES / "coffee.png", folder / "coffee.png")
    live = w.doc.graph
    threads: list[str] = []
    real = live.snapshot

    def snapshot():  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real()

    monkeypatch.setattr(live, "snapshot", snapshot)
    plan = plan_batch(w.doc.graph, [folder / "coffee.png"], tmp_path / "out", source="photo")
    done: list = []
    job = w.batch.render(plan, modal=False)
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(60)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    written = [Path(p).name for r in done[0][0] for p in r.written]
    assert done[0][1] == "" and written == ["coffee.png"]
    assert threads and set(threads) == {threading.main_thread().name}


def test_closing_stops_every_running_job_before_returning(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Quit during an export or batch: the job threads are cancelled *and* waited for (they
    used to run on, writing files, after the window was gone), not only the last one."""
    import time

    from gateway_studio.ui import jobs

    def long_job(token):  # type: ignore[no-untyped-def]
        end = time.perf_counter() + 20
        while time.perf_counter() < end and not token.cancelled:
            time.sleep(0.05)
        time.sleep(0.2)  # winding down (a node finishing) after the cancel
        return []

    started = [jobs.Job(long_job, parent=window) for _ in range(2)]
    for job in started:
        job.start()
    t0 = time.perf_counter()
    window.shutdown()
    assert time.perf_counter() - t0 < 5
    assert not any(job.is_alive() for job in started)


def test_frame_keeps_the_zoom_floor_for_nodes_far_apart(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """A patch whose nodes lie millions of units apart: F (and opening it) used to zoom out
    below MIN_ZOOM, and drawing the grid of such a view froze the UI (seconds at 1e7 apart,
    for good at 1e9)."""
    from gateway_studio.ui.canvas.view import MIN_ZOOM

    w = window
    w.doc.add_node("source.image", node_id="a", position=(0, 0))
    w.doc.add_node("source.image", node_id="b", position=(1e6, 0))
    w.view.frame()
    assert w.view.zoom >= MIN_ZOOM * 0.999
    w.view.viewport().grab()  # paints the grid: returns at once at the floor zoom


def test_frame_survives_positions_at_the_float_limit(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Finite but absurd positions in a patch file: the fitted zoom underflows to 0 (it
    raised ZeroDivisionError inside F and after opening the file)."""
    from gateway_studio.ui.canvas.view import MIN_ZOOM

    w = window
    w.doc.add_node("source.image", node_id="a", position=(1e308, -1e308))
    w.doc.add_node("source.image", node_id="b", position=(-1e308, 1e308))
    w.view.frame()
    assert w.view.zoom == MIN_ZOOM
    w.view.viewport().grab()


def test_paste_of_json_that_is_not_a_patch_says_so(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+V with a number, a list or null on the clipboard (valid JSON, not an object):
    dict(data) raised TypeError out of the slot (a traceback, no message)."""
    from qtpy.QtWidgets import QApplication

    w = window
    for text in ("5", "[1, 2]", "null", '"text"'):
        QApplication.clipboard().setText(text)
        w.paste()
        assert w.status.full_text.startswith("nothing to paste"), text
        assert len(w.doc.graph) == 0 and w.doc.undo_stack.count() == 0


def test_a_damaged_recent_list_does_not_break_open_and_save(tmp_path) -> None:
    """recent.json holding valid JSON that is not a list: recent() raised TypeError, and
    with it add_recent after every successful open and save."""
    from gateway_studio.ui.session import Session

    session = Session(tmp_path)
    for text in ("null", "5", "true"):
        (tmp_path / "recent.json").write_text(text)
        assert session.recent() == []
        session.add_recent(tmp_path / "a.json")
        assert session.recent() == [(tmp_path / "a.json").resolve()]


def test_a_failed_save_as_leaves_file_params_and_folder_alone(doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Save As into a place that cannot be written: the relative file params were already
    rebased onto the new folder (and base_dir moved) before the write failed, so the
    patch (and its autosave, recorded under the old path) pointed from the wrong folder."""
    import pytest

    from .conftest import IMAGES

    first = tmp_path / "a" / "p.json"
    first.parent.mkdir()
    (first.parent / "scene.png").write_bytes((IMAGES / "scene.png").read_bytes())
    doc.add_node("source.image", {"path": "scene.png"}, node_id="photo", position=(0, 0))
    doc.save(first)
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(OSError):
        doc.save(blocker / "deeper" / "p.json")
    assert doc.graph.base_dir == first.parent.resolve()
    assert doc.graph.node("photo").params["path"] == "scene.png"
    assert doc.path == first.resolve()


def test_inspector_shows_the_file_params_save_as_rebased(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Save As into another folder rewrites relative file params without an edit: the
    inspector kept the old text, and touching that field set the stale path back (now
    relative to the new folder, so a missing file)."""
    from .conftest import IMAGES

    w = window
    first = tmp_path / "a" / "p.json"
    first.parent.mkdir()
    (first.parent / "scene.png").write_bytes((IMAGES / "scene.png").read_bytes())
    w.doc.add_node("source.image", {"path": "scene.png"}, node_id="photo", position=(0, 0))
    w.doc.save(first)
    w.scene.select_nodes(["photo"])
    assert w.inspector.editors["path"].value() == "scene.png"
    w.doc.save(tmp_path / "b" / "deeper" / "p.json")
    assert w.inspector.editors["path"].value() == "../../a/scene.png"


def test_damaged_autosaves_are_dropped_not_offered(tmp_path) -> None:
    """An autosave whose 'path' is not a string (or which is not an object) used to reach
    the recovery prompt, where Path(...) raised at every start."""
    import json

    from gateway_studio.ui.session import Session

    session = Session(tmp_path)
    session.recovery_dir.mkdir(parents=True)
    dead = 2**22 + 12345  # above any pid_max default: no such process
    bad_path = session.recovery_dir / f"autosave-{dead}.json"
    bad_path.write_text(json.dumps({"saved": 1.0, "path": 5, "patch": {}}))
    not_object = session.recovery_dir / f"autosave-{dead + 1}.json"
    not_object.write_text("[1, 2]")
    assert session.orphaned() == []
    assert not bad_path.exists() and not not_object.exists()


def test_adding_a_node_that_cannot_be_made_leaves_no_undo_step(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """A node type this app does not know (dropped from another window or version) raised
    GraphError out of the drop slot; bad params left an empty 'Add …' undo step and the
    patch marked modified."""
    from qtpy.QtCore import QPointF

    w = window
    assert w.add_node_at("no.such.type", QPointF(0, 0)) is None
    assert "unknown node type" in w.status.full_text
    assert w.add_node_at("source.image", None, {"nope": 1}) is None
    assert "nope" in w.status.full_text
    assert w.doc.undo_stack.count() == 0 and not w.doc.dirty and len(w.doc.graph) == 0


def test_viewer_shows_a_node_again_after_viewing_an_export_node(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Select band, then the export node (not evaluated: 'writes files'), then band again:
    the worker still thought the viewer held band's picture and sent 'unchanged', so the
    viewer stayed on 'evaluating…' for good."""
    from .conftest import build_scene, wait_idle

    w = window
    build_scene(w.doc)
    w.doc.add_node(
        "output.export", {"path": str(tmp_path / "x.png")}, node_id="out", position=(600, 240)
    )
    w.doc.link("band", "field", "out", "source")
    w.scene.select_nodes(["band"])
    qtbot.waitUntil(lambda: w.viewer.view_image is not None, timeout=10000)
    w.scene.select_nodes(["out"])
    wait_idle(qtbot, w)
    assert "writes files" in w.viewer.message.text()
    w.scene.select_nodes(["band"])
    qtbot.waitUntil(lambda: w.viewer.view_image is not None, timeout=10000)
    assert w.viewer.view_image.node_id == "band" and not w.viewer.message.isVisible()


def test_soft_cancel_spares_only_the_node_it_names() -> None:
    """submit() reads the running node, then soft-cancels. If that node finished and the
    next one started in between, the old token ('spare whatever runs now') spared the next
    node too: a long model node with changed params ran to its end before the new request."""
    from gateway_studio.ui.worker import SupersedeToken

    raced = SupersedeToken()
    raced.current = "next"  # "slow" finished and "next" started after submit read "slow"
    raced.soft_cancel("slow")
    assert raced.cancelled

    spared = SupersedeToken()
    spared.current = "slow"
    spared.soft_cancel("slow")
    assert not spared.cancelled  # the named node may finish…
    spared.current = None
    assert spared.cancelled  # …and the evaluation stops right after it


def test_recovered_example_still_finds_its_images(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An edited example (untitled, its images relative to the examples folder) autosaved
    without its folder: recovered after a crash, '../images/scene.png' resolved from the
    working directory and every source node failed."""
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    from .conftest import PATCHES, wait_idle

    w = window
    assert w.files.open_example(PATCHES / "depth_band.json", ask=False)
    example_dir = w.doc.graph.base_dir
    photo = next(n.id for n in w.doc.graph.nodes() if n.type_id == "source.image")
    w.doc.set_title(photo, "edited")  # unsaved work
    w.files.autosave()
    dead = 2**22 + 4321  # no such process: the window 'crashed'
    w.session.autosave_file.rename(w.session.recovery_dir / f"autosave-{dead}.json")
    other = MainWindow(
        evaluator=Evaluator(SlotCache(None)),
        session=Session(w.session.root),
        autosave_seconds=3600,
    )
    qtbot.addWidget(other)
    try:
        assert other.files.offer_recovery() is not None
        assert other.files.recover()
        assert other.doc.graph.base_dir == example_dir
        wait_idle(qtbot, other)
        assert other.controller.state(photo).status in ("computed", "cached")
    finally:
        other.doc.undo_stack.setClean()
        other.doc._recovered = False
        other.shutdown()


def test_batch_into_an_unusable_output_folder_says_why_without_a_traceback(
    qtbot, window, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The output folder cannot be created (a file is in the way): the error dialog showed
    a Python traceback."""
    import shutil

    from .conftest import IMAGES

    w = window
    w.doc.add_node(
        "source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo", position=(0, 0)
    )
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(IMAGES / "coffee.png", folder / "coffee.png")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    job = w.batch.start(str(folder), str(blocker / "out"), "photo", modal=False)
    assert job is not None
    job.wait(30)
    qtbot.waitUntil(lambda: bool(w.errors), timeout=10000)
    title, text = w.errors[-1]
    assert title == "Batch render failed"
    assert str(blocker) in text and "Traceback" not in text


def test_closing_hides_the_window_before_waiting_for_the_worker(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    seen: list[bool] = []
    original = window.worker.shutdown

    def shutdown(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(window.isVisible())
        return original(*args, **kwargs)

    window.worker.shutdown = shutdown
    window.close()
    assert seen and seen[0] is False  # no frozen window while a busy node finishes
