"""Evaluation order, caching by content key, failures, cancellation, previews, events."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.engine import (
    CancelToken,
    Evaluator,
    Event,
    Field,
    GatewayError,
    GraphError,
    Link,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    NodeStarted,
    PatchGraph,
    Progress,
    SlotCache,
)
from gateway_studio.engine.reasons import NOT_CACHED

from .fake_nodes import CALLS, registry


def chain(g: PatchGraph) -> PatchGraph:
    g.add_node("test.const", node_id="a")
    g.add_node("test.const", {"value": 0.25}, node_id="b")
    g.add_node("test.add", node_id="sum")
    g.add_node("test.add", {"gain": 0.5}, node_id="half")
    g.connect(Link("a", "field", "sum", "a"))
    g.connect(Link("b", "field", "sum", "b"))
    g.connect(Link("sum", "field", "half", "a"))
    return g


@pytest.fixture
def graph() -> PatchGraph:
    return chain(PatchGraph(registry()))


def statuses(evaluation: object) -> dict[str, str]:
    return {k: r.status for k, r in evaluation.results.items()}  # type: ignore[attr-defined]


def test_evaluates_in_order_and_computes_values(graph: PatchGraph) -> None:
    events: list[Event] = []
    result = Evaluator().evaluate(graph, listener=events.append)
    assert result.ok
    assert statuses(result) == dict.fromkeys(["a", "b", "sum", "half"], "computed")
    out = result.output("half")
    assert isinstance(out, Field)
    np.testing.assert_allclose(out.values, 0.375)
    started = [e.node_id for e in events if isinstance(e, NodeStarted)]
    assert started == ["a", "b", "sum", "half"]
    fractions = [e.fraction for e in events if isinstance(e, Progress)]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    report = result.report()
    assert set(report["nodes"]) == {"a", "b", "sum", "half"} and report["ok"] is True


def test_second_run_is_all_cached_and_param_change_recomputes_downstream_only(
    graph: PatchGraph,
) -> None:
    evaluator = Evaluator()
    evaluator.evaluate(graph)
    again = evaluator.evaluate(graph)
    assert set(statuses(again).values()) == {"cached"}
    graph.set_param("b", "value", 0.7)
    third = evaluator.evaluate(graph)
    assert statuses(third) == {
        "a": "cached",
        "b": "computed",
        "sum": "computed",
        "half": "computed",
    }
    graph.set_param("half", "gain", 1.0)
    fourth = evaluator.evaluate(graph)
    assert statuses(fourth) == {"a": "cached", "b": "cached", "sum": "cached", "half": "computed"}


def test_keys_depend_on_content_not_on_node_ids(graph: PatchGraph) -> None:
    evaluator = Evaluator()
    first = evaluator.evaluate(graph)
    other = PatchGraph(graph.registry)
    other.add_node("test.const", node_id="zz")
    same = evaluator.evaluate(other)
    assert same.results["zz"].status == "cached"
    assert same.results["zz"].keys == first.results["a"].keys


def test_failure_marks_descendants_skipped_and_siblings_still_run(graph: PatchGraph) -> None:
    graph.add_node("test.fail", {"message": "bad thing"}, node_id="bad")
    graph.add_node("test.add", node_id="after")
    graph.connect(Link("a", "field", "bad", "a"))
    graph.connect(Link("bad", "field", "after", "a"))
    events: list[Event] = []
    result = Evaluator().evaluate(graph, listener=events.append)
    assert not result.ok
    assert result.results["bad"].status == "failed"
    assert result.results["bad"].error == "bad thing"
    assert result.results["after"].status == "skipped"
    assert "bad" in (result.results["after"].error or "")
    assert result.results["half"].status == "computed"
    failed = [e for e in events if isinstance(e, NodeFailed)]
    assert [(e.node_id, e.status) for e in failed] == [("bad", "failed"), ("after", "skipped")]
    with pytest.raises(GatewayError, match="has no output"):
        result.output("after")


def test_unexpected_exceptions_are_reported_with_type(graph: PatchGraph) -> None:
    graph.add_node("test.crash", node_id="crash")
    graph.connect(Link("a", "field", "crash", "a"))
    result = Evaluator().evaluate(graph)
    assert result.results["crash"].error == "ZeroDivisionError: division by zero"
    assert "Traceback" in (result.results["crash"].traceback or "")


def test_missing_input_strict_refuses_lenient_fails_that_node(graph: PatchGraph) -> None:
    graph.add_node("test.add", node_id="lonely")
    with pytest.raises(GraphError, match=r"lonely\.a"):
        Evaluator().evaluate(graph, strict=True)
    result = Evaluator().evaluate(graph)
    assert result.results["lonely"].status == "failed"
    assert "not connected: a" in (result.results["lonely"].error or "")
    assert result.results["half"].status == "computed"


def test_targets_restrict_to_ancestors(graph: PatchGraph) -> None:
    graph.add_node("test.const", node_id="other")
    result = Evaluator().evaluate(graph, targets=["sum"])
    assert set(result.results) == {"a", "b", "sum"}
    with pytest.raises(GraphError):
        Evaluator().evaluate(graph, targets=["nope"])


def test_cancel_between_nodes(graph: PatchGraph) -> None:
    token = CancelToken()

    def listen(event: Event) -> None:
        if isinstance(event, NodeFinished) and event.node_id == "b":
            token.cancel()

    result = Evaluator().evaluate(graph, listener=listen, cancel=token)
    assert result.cancelled and not result.ok
    assert statuses(result) == {
        "a": "computed",
        "b": "computed",
        "sum": "cancelled",
        "half": "cancelled",
    }


def test_cancel_inside_a_node(graph: PatchGraph) -> None:
    graph.add_node("test.slow", {"steps": 50}, node_id="slow")
    graph.connect(Link("half", "field", "slow", "a"))
    token = CancelToken()

    def listen(event: Event) -> None:
        if isinstance(event, NodeProgress) and event.fraction > 0.1:
            token.cancel()

    result = Evaluator().evaluate(graph, listener=listen, cancel=token)
    assert result.results["slow"].status == "cancelled" and result.cancelled


def test_bypass_passes_the_input_through(graph: PatchGraph) -> None:
    evaluator = Evaluator()
    plain = evaluator.evaluate(graph).output("sum")
    graph.node("half").bypass = True
    result = evaluator.evaluate(graph)
    assert result.results["half"].source == "bypass"
    assert result.output("half") is plain
    graph.add_node("test.const", node_id="src", bypass=True)
    assert evaluator.evaluate(graph).results["src"].status == "failed"
    graph.add_node("output.export", {"path": "/nonexistent/x.png"}, node_id="out", bypass=True)
    graph.connect(Link("half", "field", "out", "source"))
    sink = evaluator.evaluate(graph).results["out"]
    assert sink.status == "cached" and sink.outputs["files"].paths == ()  # writes nothing


def _write_png(path: Path, value: int, size: tuple[int, int] = (40, 20)) -> None:
    PILImage.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def test_source_key_hashes_file_bytes_not_path_or_mtime(tmp_path: Path) -> None:
    g = PatchGraph(registry(), base_dir=tmp_path)
    _write_png(tmp_path / "a.png", 10)
    g.add_node("test.read", {"path": "a.png"}, node_id="read")
    evaluator = Evaluator()
    first = evaluator.evaluate(g)
    assert first.results["read"].status == "computed"
    # same bytes under another name: cached
    (tmp_path / "b.png").write_bytes((tmp_path / "a.png").read_bytes())
    g.set_param("read", "path", "b.png")
    assert evaluator.evaluate(g).results["read"].status == "cached"
    # touching the file changes nothing; changing its bytes recomputes
    import os

    os.utime(tmp_path / "b.png", (1, 1))
    assert evaluator.evaluate(g).results["read"].status == "cached"
    _write_png(tmp_path / "b.png", 200)
    assert evaluator.evaluate(g).results["read"].status == "computed"


def test_progress_events_from_inside_a_node(tmp_path: Path) -> None:
    _write_png(tmp_path / "a.png", 10)
    g = PatchGraph(registry(), base_dir=tmp_path)
    g.add_node("test.read", {"path": "a.png"}, node_id="read")
    events: list[Event] = []
    Evaluator().evaluate(g, listener=events.append)
    assert NodeProgress("read", 0.5, "reading") in events


def test_preview_runs_proxy_nodes_small_and_keeps_full_results_apart(tmp_path: Path) -> None:
    _write_png(tmp_path / "a.png", 90, size=(400, 200))
    g = PatchGraph(registry(), base_dir=tmp_path)
    g.add_node("test.read", {"path": "a.png"}, node_id="read")
    g.add_node("test.size", node_id="size")
    g.connect(Link("read", "image", "size", "image"))
    evaluator = Evaluator(SlotCache(tmp_path / "cache"))
    CALLS.clear()
    preview = evaluator.evaluate(g, preview=100)
    assert preview.output("size").size == (50, 100)
    assert CALLS["test.size:50x100:True"] == 1
    full = evaluator.evaluate(g)
    assert full.results["size"].status == "computed"
    assert full.output("size").size == (200, 400)
    again = evaluator.evaluate(g, preview=100)
    assert again.results["size"].status == "cached"
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    # the preview's result and its proxy input live in memory's transient pool only
    transient = evaluator.cache.memory._transient.items
    assert preview.results["size"].keys["field"] in transient
    assert full.results["size"].keys["field"] not in transient
    assert sum(1 for k in transient) == 2


def test_evaluator_is_usable_from_several_threads(graph: PatchGraph) -> None:
    evaluator = Evaluator()
    errors: list[BaseException] = []

    def run(value: float) -> None:
        try:
            g = chain(PatchGraph(graph.registry))
            g.set_param("b", "value", value)
            out = evaluator.evaluate(g).output("half")
            np.testing.assert_allclose(out.values, min(0.5 + value, 1.0) * 0.5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(v / 10,)) for v in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_identity_hook_is_part_of_the_key() -> None:
    """A node's identity (e.g. the weights a model name resolves to) keys its outputs."""
    from gateway_studio.engine import Registry, node

    state = {"weights": "v1"}

    @node("test.model", outputs={"field": Field}, identity=lambda params, ctx: state["weights"])
    def model_node() -> Field:
        return Field(np.zeros((2, 2), np.float32))

    g = PatchGraph(Registry([model_node]))
    g.add_node("test.model", node_id="m")
    evaluator = Evaluator()
    assert evaluator.evaluate(g).results["m"].status == "computed"
    assert evaluator.evaluate(g).results["m"].status == "cached"
    state["weights"] = "v2"
    assert evaluator.evaluate(g).results["m"].status == "computed"

    def broken(params: object, ctx: object) -> str:
        raise OSError("unreadable")

    failing = node("test.model2", outputs={"field": Field}, identity=broken)(model_node.func)
    g2 = PatchGraph(Registry([failing]))
    g2.add_node("test.model2", node_id="m")
    assert evaluator.evaluate(g2).results["m"].status == "computed"


def test_nodes_fed_by_preview_proxies_do_not_write_the_disk(tmp_path: Path) -> None:
    from gateway_studio.engine import node

    @node("test.full", outputs={"field": Field}, proxy=False)
    def full_res(a: Field, *, gain: float = 1.0) -> Field:
        return Field(np.clip(a.values * gain, 0, 1).astype(np.float32))

    _write_png(tmp_path / "a.png", 90, size=(400, 200))
    reg = registry()
    reg.register(full_res)
    g = PatchGraph(reg, base_dir=tmp_path)
    g.add_node("test.read", {"path": "a.png"}, node_id="read")
    g.add_node("test.size", node_id="size")  # runs on a proxy while previewing
    g.add_node("test.full", node_id="after")  # no proxy of its own, but proxy inputs
    g.connect(Link("read", "image", "size", "image"))
    g.connect(Link("size", "field", "after", "a"))
    evaluator = Evaluator(SlotCache(tmp_path / "cache"))
    evaluator.evaluate(g)  # full resolution: everything persisted
    on_disk = set((tmp_path / "cache").rglob("*.slot"))
    g.node("after").params["gain"] = 0.5
    result = evaluator.evaluate(g, preview=100)
    assert result.results["after"].status == "computed"
    assert result.results["after"].preview and not result.results["read"].preview
    assert set((tmp_path / "cache").rglob("*.slot")) == on_disk


def line_of(length: int) -> PatchGraph:
    g = PatchGraph(registry())
    g.add_node("test.const", node_id="n0")
    for i in range(1, length):
        g.add_node("test.add", {"gain": 1.0}, node_id=f"n{i}")
        g.connect(Link(f"n{i - 1}", "field", f"n{i}", "a"))
    return g


def test_a_node_key_is_its_documented_digest_however_it_is_made() -> None:
    """The key of a node re-keyed from its params' hash state (a knob upstream) is the
    digest ``keys.node_key`` documents, so disk caches of earlier versions stay valid."""
    import hashlib
    import json

    from gateway_studio.engine.keys import node_key, node_key_head, node_key_with

    params, inputs = {"gain": 0.5, "mode": "soft"}, {"b": "k2.field", "a": "k1.field"}
    parts = (
        "test.add",
        "3",
        json.dumps(params, sort_keys=True),
        json.dumps(inputs, sort_keys=True),
    )
    expected = hashlib.blake2b(("\x00".join(parts) + "\x00").encode(), digest_size=20).hexdigest()
    assert node_key("test.add", 3, params, inputs) == expected
    head = node_key_head("test.add", 3, json.dumps(params, sort_keys=True))
    assert node_key_with(head, {"a": "other.field"}) != expected
    assert node_key_with(head, inputs) == expected  # the head is not used up by a key


def test_a_knob_change_rekeys_only_the_nodes_downstream_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway_studio.engine import keying

    hashed: list[object] = []
    real = keying.node_key_with

    def counting(head: object, inputs: object) -> str:
        hashed.append(head)
        return real(head, inputs)  # type: ignore[arg-type]

    monkeypatch.setattr(keying, "node_key_with", counting)
    graph, evaluator = line_of(10), Evaluator()
    evaluator.evaluate(graph)
    assert len(hashed) == 10
    hashed.clear()
    assert set(statuses(evaluator.evaluate(graph)).values()) == {"cached"}
    assert hashed == []  # nothing changed: no key is made again
    graph.set_param("n6", "gain", 0.5)
    again = evaluator.evaluate(graph)
    assert len(hashed) == 4  # n6 and its three descendants
    assert [n for n, s in statuses(again).items() if s == "computed"] == ["n6", "n7", "n8", "n9"]
    hashed.clear()
    graph.node("n2").params["gain"] = 0.5  # edited in place, not through set_param: seen too
    assert statuses(evaluator.evaluate(graph))["n2"] == "computed" and len(hashed) == 8


def test_reused_keys_tell_apart_what_json_tells_apart() -> None:
    """The key memo compares params by value and type: 1, 1.0 and True differ in the
    key's JSON, and so do 0.0 and -0.0."""
    from gateway_studio.engine.keying import _same

    def same(old: dict[str, object], new: dict[str, object]) -> bool:
        return _same(old, new, tuple(map(type, old.values())))

    assert same({"g": 1.0, "m": "max"}, {"g": 1.0, "m": "max"})
    assert not same({"g": 1.0}, {"g": 1})
    assert not same({"g": 1}, {"g": True})
    assert not same({"g": 0.0}, {"g": -0.0})
    assert same({"g": -0.0, "n": 0}, {"g": -0.0, "n": 0})
    assert not same({"g": 1.0}, {"g": 2.0})


def test_one_reason_file_per_patch_folder_per_evaluation(tmp_path: Path) -> None:
    graph = line_of(6)
    graph.base_dir = tmp_path / "patch"
    Evaluator(SlotCache(tmp_path / "cache")).evaluate(graph)
    files = list((tmp_path / "cache" / "reasons").iterdir())
    assert len(files) == 1
    # a later process knows why each node runs again
    graph.set_param("n3", "gain", 0.5)
    again = Evaluator(SlotCache(tmp_path / "cache")).evaluate(graph)
    assert again.results["n3"].reason == "param n3.gain 1.0 → 0.5"
    assert again.results["n4"].reason == "input a changed"
    n1 = again.results["n1"]  # tiny and cheap: kept in memory only (unless it was slow)
    assert n1.reason == NOT_CACHED or n1.status == "cached"


def test_knob_changes_recompute_the_descendants_with_the_same_events_and_reasons() -> None:
    """Twice in a row (the second time the downstream keys are re-made from keys that
    were re-made already): upstream nodes are memory hits, the knob's node and its
    descendants compute, each says why, and the events come in run order."""
    graph, evaluator = line_of(6), Evaluator()
    evaluator.evaluate(graph)
    for gain in (0.5, 0.25):
        events: list[Event] = []
        graph.set_param("n3", "gain", gain)
        result = evaluator.evaluate(graph, listener=events.append)
        assert statuses(result) == {f"n{i}": "cached" if i < 3 else "computed" for i in range(6)}
        assert [result.results[f"n{i}"].source for i in range(6)] == ["memory"] * 3 + [
            "computed"
        ] * 3
        before = "1.0" if gain == 0.5 else "0.5"
        assert result.results["n3"].reason == f"param n3.gain {before} → {gain}"
        assert [result.results[n].reason for n in ("n4", "n5")] == ["input a changed"] * 2
        kinds = [
            (type(e).__name__, getattr(e, "node_id", None), getattr(e, "cached", None))
            for e in events
        ]
        expected = []
        for i in range(6):
            expected += [
                ("NodeStarted", f"n{i}", None),
                ("NodeFinished", f"n{i}", i < 3),
                ("Progress", None, None),
            ]
        assert kinds == expected
        finished = [e for e in events if isinstance(e, NodeFinished)]
        assert [e.reason for e in finished[3:]] == [r.reason for r in result.results.values()][3:]
        assert [e.source for e in finished] == ["memory"] * 3 + ["computed"] * 3
        assert [e.fraction for e in events if isinstance(e, Progress)] == [
            (i + 1) / 6 for i in range(6)
        ]
        np.testing.assert_allclose(result.output("n5").values, 0.5 * gain)


def test_a_reason_put_into_words_late_still_says_what_changed_then() -> None:
    """Reasons are worded when first read (``reasons.Why``): read after later runs have
    filed newer ingredients, each still names its own run's change."""
    graph, evaluator = line_of(4), Evaluator()
    evaluator.evaluate(graph)
    graph.set_param("n1", "gain", 0.5)
    first = evaluator.evaluate(graph)
    graph.set_param("n1", "gain", 0.25)
    second = evaluator.evaluate(graph)
    assert first.results["n1"].reason == "param n1.gain 1.0 → 0.5"
    assert second.results["n1"].reason == "param n1.gain 0.5 → 0.25"
    assert first.results["n3"].reason == second.results["n3"].reason == "input a changed"
    assert first.results["n0"].reason == ""  # a hit has none


def test_a_reason_is_the_same_whichever_way_it_is_worked_out() -> None:
    """``explain`` with ``since`` (only the inputs can differ) says what it says without."""
    from gateway_studio.engine.reasons import explain, ingredients

    base = ingredients(1, {"gain": 1.0}, {}, {"a": "k1", "b": "k2"})
    for inputs in ({"a": "k1", "b": "k2"}, {"a": "k3", "b": "k2"}, {"a": "k3", "b": "k4"}):
        new = {**base, "inputs": inputs}
        assert explain("n", base, new, since=base) == explain("n", base, new)
    moved = {**base, "inputs": {"a": "k1", "c": "k2"}}
    assert explain("n", base, moved, since=base) == explain("n", base, moved)
    assert explain("n", base, moved) == "input c connected; input b disconnected"
