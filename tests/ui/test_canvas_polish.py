"""Regressions found by using the app as an artist would (QA pass on the desktop app)."""

from __future__ import annotations

from .conftest import build_scene, wait_idle


def _overlaps(w, a: str, b: str) -> bool:  # type: ignore[no-untyped-def]
    ra = w.scene.node_item(a).sceneBoundingRect()
    rb = w.scene.node_item(b).sceneBoundingRect()
    return ra.intersects(rb)


def test_palette_add_goes_right_of_the_selected_node_not_on_top(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Double-clicking a palette entry used to drop the node in the view centre, on top of
    whatever was there (an export landed over the node feeding it)."""
    w = window
    build_scene(w.doc)
    w.view.frame()
    w.scene.select_nodes(["band"])
    node_id = w.add_node_at("output.export", None)
    assert node_id is not None
    assert w.doc.graph.incoming(node_id) == {"source": ("band", "field")}  # auto-wired
    band = w.scene.node_item("band").sceneBoundingRect()
    new = w.scene.node_item(node_id).sceneBoundingRect()
    assert new.left() > band.right()
    assert all(not _overlaps(w, node_id, other) for other in ("photo", "depth", "band"))


def test_added_nodes_never_cover_existing_ones(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.scene.clearSelection()
    # aimed right at the middle of an existing node (Tab with the cursor over it)
    centre = w.scene.node_item("band").sceneBoundingRect().center()
    a = w.add_node_at("field.remap", centre, auto_connect=False)
    b = w.add_node_at("field.remap", centre, auto_connect=False)
    ids = ["photo", "depth", "band", a, b]
    for i, x in enumerate(ids):
        for y in ids[i + 1 :]:
            assert not _overlaps(w, x, y), (x, y)
    # still one undo step each
    w.doc.undo_stack.undo()
    assert b not in w.doc.graph and a in w.doc.graph


def test_selected_node_is_drawn_above_the_nodes_it_overlaps(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.doc.move_nodes({"band": (20.0, 250.0)})  # band now lies over depth
    depth, band = w.scene.node_item("depth"), w.scene.node_item("band")
    w.scene.select_nodes(["depth"])
    assert depth.zValue() > band.zValue()
    spot = depth.sceneBoundingRect().intersected(band.sceneBoundingRect()).center()
    top = next(i for i in w.scene.items(spot) if i in (depth, band))
    assert top is depth
    w.scene.select_nodes(["band"])
    assert band.zValue() > depth.zValue()
    wait_idle(qtbot, w)
