"""Regressions found in review: a cancel that drops a queued request, batch thread safety."""

from __future__ import annotations

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
