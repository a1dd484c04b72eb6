"""The evaluation worker: off the UI thread, newest request wins, only downstream recomputes."""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np

from gateway_studio.engine import Context, Field, NodeFailed, NodeFinished, NodeStarted, Range, node

from .conftest import build_scene


def _controller(doc, worker):  # type: ignore[no-untyped-def]
    from gateway_studio.ui.controller import EvalController

    return EvalController(doc, worker)


def _wait_idle(qtbot, ctl, timeout=20000) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not ctl.busy and not ctl._timer.isActive(), timeout=timeout)


def test_knob_change_recomputes_only_downstream(qtbot, doc, worker) -> None:  # type: ignore[no-untyped-def]
    ctl = _controller(doc, worker)
    events: list[tuple[int, object]] = []
    ctl.eventReceived.connect(lambda rid, ev: events.append((rid, ev)))
    build_scene(doc)
    doc.add_node("field.remap", node_id="after", position=(560, 240))
    doc.link("band", "field", "after", "source")
    _wait_idle(qtbot, ctl)
    assert {n: ctl.state(n).status for n in doc.node_ids()} == {
        "photo": "computed",
        "depth": "computed",
        "band": "computed",
        "after": "computed",
    }

    events.clear()
    doc.set_param("band", "gamma", 2.0)
    _wait_idle(qtbot, ctl)
    finished = {ev.node_id: ev.cached for _, ev in events if isinstance(ev, NodeFinished)}
    assert finished == {"photo": True, "depth": True, "band": False, "after": False}
    assert {n: ctl.state(n).status for n in ("photo", "depth", "band", "after")} == {
        "photo": "cached",
        "depth": "cached",
        "band": "computed",
        "after": "computed",
    }


def test_newer_request_supersedes_pending(qtbot, doc, worker) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.worker import EvalRequest

    build_scene(doc)
    responses = []
    worker.finished.connect(responses.append)
    ids = []
    for i in range(20):
        doc.graph.set_param("band", "gain", 1.0 + i * 0.1)
        ids.append(worker.submit(EvalRequest(doc.graph.snapshot())))
    qtbot.waitUntil(lambda: bool(responses) and responses[-1].request_id == ids[-1], timeout=20000)
    time.sleep(0.05)
    qtbot.wait(50)
    assert len(responses) < len(ids)  # queued requests were dropped, not run one by one
    last = responses[-1]
    assert not last.cancelled and last.results["band"].status in ("computed", "cached")
    values = last.results["band"].outputs["field"].values
    assert values.shape == (640, 960)


def test_failed_node_shows_error_and_rest_still_renders(qtbot, doc, worker) -> None:  # type: ignore[no-untyped-def]
    ctl = _controller(doc, worker)
    thumbs: dict[str, object] = {}
    ctl.thumbnailChanged.connect(lambda nid, img: thumbs.__setitem__(nid, img))
    build_scene(doc)
    doc.set_param("depth", "path", "/nonexistent/depth.png")
    _wait_idle(qtbot, ctl)
    assert ctl.state("depth").status == "failed"
    assert "no such file" in ctl.state("depth").message
    assert ctl.state("band").status == "skipped"
    assert ctl.state("photo").status in ("computed", "cached")
    assert "photo" in thumbs and "depth" not in thumbs


def test_preview_while_dragging_then_full_resolution(qtbot, doc, worker) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui import worker as worker_mod
    from gateway_studio.ui.worker import ViewSpec

    ctl = _controller(doc, worker)
    build_scene(doc)
    _wait_idle(qtbot, ctl)
    worker_mod_preview = worker_mod.PREVIEW_SIZE
    responses = []
    ctl.evaluated.connect(responses.append)
    ctl.set_view(ViewSpec("band"))
    _wait_idle(qtbot, ctl)
    views = []
    ctl.viewChanged.connect(lambda v, msg: views.append(v))
    started = []
    ctl.eventReceived.connect(lambda rid, ev: isinstance(ev, NodeStarted) and started.append(ev))
    ctl.begin_interaction("band")
    doc.set_param("band", "low", 0.2, gesture=1)
    _wait_idle(qtbot, ctl)
    assert responses[-1].preview == worker_mod_preview  # the first step of a drag: 1024
    assert set(responses[-1].results) == {"depth", "band"}  # only what the view needs
    ctl.end_interaction()
    _wait_idle(qtbot, ctl)
    assert responses[-1].preview is None
    assert views and views[-1] is not None and views[-1].node_id == "band"
    assert not any(isinstance(ev, NodeFailed) for ev in started)


def test_preview_proxy_adapts_to_slow_nodes() -> None:
    from gateway_studio.ui.controller import PREVIEW_BUDGET, next_preview_size

    assert next_preview_size(1024, PREVIEW_BUDGET) == 1024  # on budget: keep it
    smaller = next_preview_size(1024, PREVIEW_BUDGET * 4)  # 4x too slow: half the side
    assert smaller == 512
    assert next_preview_size(512, PREVIEW_BUDGET / 8) == 1024  # fast again: back up, capped
    assert next_preview_size(256, 10.0) == 256  # never below the floor


@node("test.ramp", outputs={"field": Field})
def ramp(*, size: Annotated[int, Range(1, 512)] = 64) -> Field:
    return Field(np.tile(np.linspace(0, 1, size, dtype=np.float32), (size, 1)))


SLOW_RUNS: list[float] = []


@node("test.slow", outputs={"field": Field})
def slow(source: Field, *, seconds: Annotated[float, Range(0, 5)] = 0.8, ctx: Context) -> Field:
    """Stands in for a model: long, and polls for cancellation like model nodes do."""
    SLOW_RUNS.append(seconds)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        time.sleep(0.02)
        ctx.check_cancelled()
    return source


def test_thumbnails_arrive_as_each_node_finishes(qtbot, worker) -> None:  # type: ignore[no-untyped-def]
    """A slow node downstream must not hold back the pictures of the nodes before it."""
    from gateway_studio.engine import Registry
    from gateway_studio.ui.controller import EvalController
    from gateway_studio.ui.document import Document

    doc = Document(Registry([ramp, slow]))
    ctl = EvalController(doc, worker)
    arrived: dict[str, float] = {}
    ctl.thumbnailChanged.connect(lambda nid, img: arrived.setdefault(nid, time.perf_counter()))
    done: list[float] = []
    ctl.evaluated.connect(lambda r: done.append(time.perf_counter()))
    doc.add_node("test.ramp", node_id="ramp", position=(0, 0))
    doc.add_node("test.slow", node_id="slow", position=(300, 0))
    doc.link("ramp", "field", "slow", "source")
    qtbot.waitUntil(lambda: bool(done) and "slow" in arrived, timeout=10000)
    assert done[-1] - arrived["ramp"] > 0.5  # ramp's picture came while slow still ran


def test_downstream_tweak_does_not_restart_a_long_node_upstream(qtbot, worker) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Registry
    from gateway_studio.ui.controller import EvalController
    from gateway_studio.ui.document import Document

    reg = Registry([ramp, slow])
    doc = Document(reg)
    ctl = EvalController(doc, worker)
    SLOW_RUNS.clear()
    doc.add_node("test.ramp", node_id="ramp", position=(0, 0))
    doc.add_node("test.slow", node_id="slow", position=(300, 0))
    doc.add_node("test.ramp", node_id="other", position=(0, 300))
    doc.link("ramp", "field", "slow", "source")
    qtbot.waitUntil(lambda: len(SLOW_RUNS) == 1, timeout=5000)
    for size in (10, 20, 30):  # edits elsewhere while the long node runs
        doc.set_param("other", "size", size)
        qtbot.wait(50)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=10000)
    assert SLOW_RUNS == [0.8]  # it ran once, to the end
    assert ctl.state("slow").status in ("computed", "cached")
    # changing the long node itself does cancel it
    doc.set_param("slow", "seconds", 0.6)
    qtbot.waitUntil(lambda: len(SLOW_RUNS) == 2, timeout=5000)
    qtbot.wait(100)
    doc.set_param("slow", "seconds", 0.5)
    qtbot.waitUntil(lambda: not ctl.busy, timeout=10000)
    assert SLOW_RUNS == [0.8, 0.6, 0.5] and ctl.state("slow").status == "computed"
