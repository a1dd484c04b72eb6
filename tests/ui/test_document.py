"""Document + undo commands: every edit is one step and undo restores the exact graph."""

from __future__ import annotations

import json

import pytest

from gateway_studio.engine import GraphError, load_patch, patch_to_dict

from .conftest import IMAGES, build_scene


def snapshot(doc) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(patch_to_dict(doc.graph), sort_keys=True)


def test_undo_redo_restores_exact_graph(doc) -> None:  # type: ignore[no-untyped-def]
    states = [snapshot(doc)]
    build_scene(doc)
    states.append(snapshot(doc))
    doc.set_param("band", "gamma", 2.0)
    doc.move_nodes({"band": (500.0, 100.0)})
    doc.set_bypass("band", True)
    doc.add_node("field.remap", node_id="remap2", position=(600, 0))
    doc.link("band", "field", "remap2", "source")
    doc.link("depth", "depth", "remap2", "source")  # replaces band → remap2
    doc.unlink("band", "source")
    doc.remove_nodes(["depth"])
    final = snapshot(doc)
    stack = doc.undo_stack
    history = []
    while stack.canUndo():
        history.append(snapshot(doc))
        stack.undo()
    assert snapshot(doc) == states[0]
    while stack.canRedo():
        stack.redo()
    assert snapshot(doc) == final
    # every intermediate state comes back in order
    replay = []
    while stack.canUndo():
        replay.append(snapshot(doc))
        stack.undo()
    assert replay == history


def test_remove_node_restores_its_links(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    doc.add_node("field.remap", node_id="after", position=(600, 240))
    doc.link("band", "field", "after", "source")
    before = snapshot(doc)
    doc.remove_nodes(["band"])
    assert "band" not in doc.graph and doc.graph.links() == []
    doc.undo_stack.undo()
    assert snapshot(doc) == before
    assert len(doc.graph.links()) == 2


def test_connect_undo_restores_replaced_link(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    doc.add_node("field.remap", node_id="other", position=(0, 500))
    doc.link("depth", "depth", "other", "source")
    doc.link("other", "field", "band", "source")  # replaces depth → band
    assert doc.graph.incoming("band") == {"source": ("other", "field")}
    doc.undo_stack.undo()
    assert doc.graph.incoming("band") == {"source": ("depth", "depth")}


def test_slider_drag_is_one_undo_step(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    count = doc.undo_stack.count()
    for v in (0.3, 0.4, 0.5, 0.6):
        doc.set_param("band", "low", v, gesture=7)
    assert doc.undo_stack.count() == count + 1
    doc.set_param("band", "low", 0.1, gesture=8)  # the next drag is its own step
    assert doc.undo_stack.count() == count + 2
    doc.undo_stack.undo()
    assert doc.graph.node("band").params["low"] == 0.6
    doc.undo_stack.undo()
    assert doc.graph.node("band").params["low"] == 0.0


def test_consecutive_moves_merge(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    count = doc.undo_stack.count()
    for x in (10.0, 20.0, 30.0):
        doc.move_nodes({"band": (x, 0.0)})
    assert doc.undo_stack.count() == count + 1
    doc.undo_stack.undo()
    assert doc.graph.node("band").position == (280.0, 240.0)


def test_refused_edits_leave_graph_and_stack_unchanged(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    before, count = snapshot(doc), doc.undo_stack.count()
    with pytest.raises(GraphError, match="incompatible slot types"):
        doc.link("photo", "image", "band", "source")
    with pytest.raises(GraphError, match="above the maximum"):
        doc.set_param("band", "gamma", 99.0)
    with pytest.raises(GraphError, match="unknown node type"):
        doc.add_node("no.such.node")
    assert snapshot(doc) == before and doc.undo_stack.count() == count


def test_cycle_is_refused(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    doc.add_node("field.remap", node_id="b2", position=(0, 0))
    doc.link("band", "field", "b2", "source")
    with pytest.raises(GraphError, match="cycle"):
        doc.link("b2", "field", "band", "source")


def test_copy_paste_gives_fresh_ids_and_internal_links(doc) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    data = doc.copy_nodes(["depth", "band"])
    assert {n["id"] for n in data["nodes"]} == {"depth", "band"}
    new_ids = doc.paste(data)
    assert len(new_ids) == 2 and not set(new_ids) & {"depth", "band", "photo"}
    links = {(lk.src, lk.dst) for lk in doc.graph.links()}
    assert (new_ids[0], new_ids[1]) in links  # the pasted pair is linked to itself
    assert doc.graph.node(new_ids[1]).params["band_centre"] == 0.35
    doc.undo_stack.undo()  # the whole paste is one step
    assert set(doc.node_ids()) == {"photo", "depth", "band"}


def test_save_close_open_is_identical(doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    build_scene(doc)
    doc.add_backdrop("Depth work", (-20.0, 200.0, 600.0, 260.0))
    assert doc.dirty
    path = doc.save(tmp_path / "sub" / "p.json")
    assert not doc.dirty
    saved = doc.to_dict()
    from gateway_studio.ui.document import Document

    other = Document()
    other.open(path)
    assert other.to_dict() == saved
    assert patch_to_dict(load_patch(path)) == saved


def test_save_as_elsewhere_keeps_relative_paths_working(doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = tmp_path / "a" / "p.json"
    first.parent.mkdir()
    (first.parent / "scene.png").write_bytes((IMAGES / "scene.png").read_bytes())
    doc.add_node("source.image", {"path": "scene.png"}, node_id="photo", position=(0, 0))
    doc.save(first)
    doc.save(tmp_path / "b" / "deeper" / "p.json")
    assert doc.graph.node("photo").params["path"] == "../../a/scene.png"


def test_auto_layout_for_patches_without_positions(doc) -> None:  # type: ignore[no-untyped-def]
    data = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {"id": "d", "type": "depth.from_file", "params": {}},
            {"id": "r", "type": "field.remap", "params": {}},
            {"id": "r2", "type": "field.remap", "params": {}},
        ],
        "links": [{"from": "d.depth", "to": "r.source"}, {"from": "r.field", "to": "r2.source"}],
    }
    doc.load_dict(data)
    xs = [doc.graph.node(n).position[0] for n in ("d", "r", "r2")]
    assert xs[0] < xs[1] < xs[2]  # columns by topological depth, links point right


def test_a_macro_is_closed_even_when_an_edit_raises(doc) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from gateway_studio.engine import GatewayError

    with pytest.raises(GatewayError), doc.macro("Broken"):
        doc.add_node("field.remap", node_id="a")
        doc.add_node("no.such.type")
    # the stack is not left inside an open macro: a later edit is its own step
    doc.add_node("field.remap", node_id="b")
    doc.undo_stack.undo()
    assert "b" not in doc.graph and "a" in doc.graph
