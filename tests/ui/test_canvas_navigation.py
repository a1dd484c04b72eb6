"""Large patches on the canvas: the minimap, grid snapping and reroute dots."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QEvent, QPoint, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication

from .conftest import build_scene, wait_idle


def _mouse(  # type: ignore[no-untyped-def]
    widget, kind, pos: QPoint, buttons, button=Qt.MouseButton.NoButton, mods=None
) -> None:
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier if mods is None else mods,
    )
    QApplication.sendEvent(widget, event)


def _drag(widget, start: QPoint, end: QPoint, steps: int = 6) -> None:  # type: ignore[no-untyped-def]
    left = Qt.MouseButton.LeftButton
    _mouse(widget, QEvent.Type.MouseButtonPress, start, left, left)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _mouse(widget, QEvent.Type.MouseMove, p, left)
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton, left)


def _large_patch(doc, columns: int = 6, rows: int = 4) -> None:  # type: ignore[no-untyped-def]
    """A grid of field nodes far wider and taller than the view at 1:1."""
    for c in range(columns):
        for r in range(rows):
            doc.add_node("field.remap", node_id=f"n{c}_{r}", position=(c * 420.0, r * 320.0))


def _header_point(w, node_id: str) -> QPoint:  # type: ignore[no-untyped-def]
    body = w.scene.node_item(node_id).scene_body()
    return w.view.mapFromScene(QPointF(body.left() + 40, body.top() + 12))


# -- minimap ---------------------------------------------------------------------------
def test_minimap_hidden_when_the_patch_fits_shown_when_it_does_not(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.view.frame()
    w.view.minimap.refresh_now()
    assert not w.view.minimap.isVisible()  # three nodes fit: no map
    _large_patch(w.doc)
    w.view.resetTransform()
    w.view.centerOn(0, 0)
    w.view.minimap.refresh_now()
    assert w.view.minimap.isVisible()
    # in the canvas's bottom-right corner, inside the viewport
    port = w.view.viewport().geometry()
    assert port.contains(w.view.minimap.geometry())
    assert w.view.minimap.geometry().right() > port.center().x()
    # View ▸ Minimap off hides it; on shows it again
    w.view_actions.act_minimap.setChecked(False)
    assert not w.view.minimap.isVisible()
    w.view_actions.act_minimap.setChecked(True)
    assert w.view.minimap.isVisible()


def test_minimap_click_and_drag_pan_the_view(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    _large_patch(w.doc)
    w.view.resetTransform()
    w.view.centerOn(0, 0)
    minimap = w.view.minimap
    minimap.refresh_now()
    assert minimap.isVisible()
    # the visible rectangle is drawn where the view is
    seen = minimap.to_map(minimap.visible_rect())
    far = minimap.to_map(w.scene.node_item("n5_3").scene_body()).center()
    assert not seen.contains(far)
    _mouse(
        minimap,
        QEvent.Type.MouseButtonPress,
        far.toPoint(),
        Qt.MouseButton.LeftButton,
        Qt.MouseButton.LeftButton,
    )
    target = w.scene.node_item("n5_3").scene_body()
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert abs(centre.x() - target.center().x()) < 40
    assert abs(centre.y() - target.center().y()) < 40
    # dragging keeps panning, to where the pointer is
    near = minimap.to_map(w.scene.node_item("n1_0").scene_body()).center().toPoint()
    _mouse(minimap, QEvent.Type.MouseMove, near, Qt.MouseButton.LeftButton)
    _mouse(
        minimap,
        QEvent.Type.MouseButtonRelease,
        near,
        Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton,
    )
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert abs(centre.x() - w.scene.node_item("n1_0").scene_body().center().x()) < 60


# -- grid snapping ---------------------------------------------------------------------
def test_dragged_nodes_snap_to_the_grid_and_undo_in_one_step(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.scene import GRID

    w = window
    build_scene(w.doc)
    w.doc.move_nodes({"band": (283.0, 247.0)})  # off the grid
    w.doc.set_param("band", "gain", 1.5)  # (a move right after a move merges with it)
    w.view.frame()
    undo_before = w.doc.undo_stack.count()
    start = _header_point(w, "band")
    _drag(w.view.viewport(), start, start + QPoint(37, 23))
    x, y = w.doc.graph.node("band").position or (0.0, 0.0)
    assert (x % GRID, y % GRID) == (0.0, 0.0)
    assert (x, y) != (283.0, 247.0)
    assert w.doc.undo_stack.count() == undo_before + 1  # the whole drag: one step
    w.doc.undo_stack.undo()
    assert w.doc.graph.node("band").position == (283.0, 247.0)
    assert (w.scene.node_item("band").pos().x(), w.scene.node_item("band").pos().y()) == (
        283.0,
        247.0,
    )


def test_snapping_can_be_switched_off_and_is_remembered(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.session import Session
    from gateway_studio.ui.view_actions import ViewActions

    w = window
    build_scene(w.doc)
    w.view.frame()
    assert w.view_actions.act_snap.isChecked() and w.scene.snap_to_grid  # on by default
    w.view_actions.act_snap.setChecked(False)
    assert not w.scene.snap_to_grid
    w.doc.move_nodes({"band": (283.0, 247.0)})
    start = _header_point(w, "band")
    zoom = w.view.zoom
    _drag(w.view.viewport(), start, start + QPoint(37, 23))
    x, y = w.doc.graph.node("band").position or (0.0, 0.0)
    assert abs(x - (283.0 + 37 / zoom)) < 1.5 and abs(y - (247.0 + 23 / zoom)) < 1.5
    # remembered in the session's settings for the next window
    assert Session(tmp_path / "config").setting("snap_to_grid", True) is False
    again = ViewActions(w)
    assert not again.act_snap.isChecked()


def test_opening_a_patch_keeps_its_positions_off_grid(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Only a drag snaps: a patch's own positions are what it says."""
    w = window
    w.doc.add_node("field.remap", node_id="a", position=(13.0, 7.0))
    assert w.scene.node_item("a").pos() == QPointF(13.0, 7.0)


# -- reroute dots ----------------------------------------------------------------------
def test_double_click_on_a_wire_inserts_a_reroute_that_type_checks_through(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.reroute_item import RerouteItem

    w = window
    build_scene(w.doc)
    w.view.frame()
    wait_idle(qtbot, w)
    wire = w.scene.wires[("band", "source")]
    at = wire.path().pointAtPercent(0.5)
    vp = w.view.mapFromScene(at)
    left = Qt.MouseButton.LeftButton
    viewport = w.view.viewport()
    _mouse(viewport, QEvent.Type.MouseButtonPress, vp, left, left)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, vp, Qt.MouseButton.NoButton, left)
    _mouse(viewport, QEvent.Type.MouseButtonDblClick, vp, left, left)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, vp, Qt.MouseButton.NoButton, left)
    dots = [n for n in w.doc.node_ids() if w.doc.graph.node(n).type_id == "util.reroute_depth"]
    assert len(dots) == 1
    dot = dots[0]
    assert isinstance(w.scene.node_item(dot), RerouteItem)
    assert w.doc.graph.incoming(dot) == {"value": ("depth", "depth")}
    assert w.doc.graph.incoming("band") == {"source": (dot, "value")}
    # the dot sits where the wire was clicked
    assert (w.scene.node_item(dot).scene_body().center() - at).manhattanLength() < 3
    wait_idle(qtbot, w)
    assert w.controller.state("band").status != "failed"
    # one undo step takes it out and puts the wire back
    w.doc.undo_stack.undo()
    assert dot not in w.doc.graph
    assert w.doc.graph.incoming("band") == {"source": ("depth", "depth")}


def test_reroute_is_saved_reloaded_and_passes_its_value_unchanged(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Evaluator, patch_from_dict, patch_to_dict

    w = window
    build_scene(w.doc)
    direct = Evaluator().evaluate(w.doc.graph.snapshot()).output("band")
    w.scene.wires[("band", "source")].setSelected(True)
    dot = w.node_actions.insert_reroute()
    assert dot is not None
    data = patch_to_dict(w.doc.graph)
    saved = {n["id"]: n for n in data["nodes"]}
    assert saved[dot]["type"] == "util.reroute_depth"
    graph = patch_from_dict(data)
    assert graph.incoming("band") == {"source": (dot, "value")}
    assert graph.spec(dot).outputs[0].type_name == graph.spec(dot).inputs[0].type_name == "Depth"
    routed = Evaluator().evaluate(graph).output("band")
    np.testing.assert_array_equal(routed.values, direct.values)  # type: ignore[attr-defined]
    # an Image output cannot feed a Depth reroute: the type is checked through the dot
    w.doc.add_node("source.image", node_id="img", position=(0, 600))
    from gateway_studio.engine.errors import GraphError

    try:
        w.doc.link("img", "image", dot, "value")
    except GraphError as exc:
        assert "incompatible" in str(exc)
    else:
        raise AssertionError("an Image was wired into a Depth reroute")


def test_insert_reroute_needs_one_selected_wire(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    count = len(w.doc.graph)
    assert w.node_actions.insert_reroute() is None
    assert len(w.doc.graph) == count
    assert "select one wire" in w.status.full_text  # type: ignore[attr-defined]
    assert w.act_reroute in w.menuBar().actions()[2].menu().actions()


def test_deleting_a_reroute_gives_the_wire_back(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.reroute_item import insert_reroute

    w = window
    build_scene(w.doc)
    link = w.scene.wires[("band", "source")].link
    first = insert_reroute(w.scene, link, QPointF(200, 300))
    assert first is not None
    second = insert_reroute(w.scene, w.scene.wires[("band", "source")].link, QPointF(240, 300))
    assert second is not None
    assert w.doc.graph.incoming("band") == {"source": (second, "value")}
    w.scene.select_nodes([first, second])
    w.scene.delete_selection()
    assert first not in w.doc.graph and second not in w.doc.graph
    assert w.doc.graph.incoming("band") == {"source": ("depth", "depth")}
    w.doc.undo_stack.undo()  # one step brings both dots back, wired as they were
    assert w.doc.graph.incoming("band") == {"source": (second, "value")}
    assert w.doc.graph.incoming(second) == {"value": (first, "value")}
    # deleting the source with its dot leaves the input unwired (nothing to rejoin)
    w.scene.select_nodes(["depth", first, second])
    w.scene.delete_selection()
    assert w.doc.graph.incoming("band") == {}


def test_auto_layout_gives_a_reroute_a_dot_sized_column(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.reroute_item import SIZE, insert_reroute
    from gateway_studio.ui.layout import COLUMN_GAP

    w = window
    build_scene(w.doc)
    dot = insert_reroute(w.scene, w.scene.wires[("band", "source")].link, QPointF(200, 300))
    assert dot is not None
    w.doc.auto_layout(None)
    dot_x = (w.doc.graph.node(dot).position or (0.0, 0.0))[0]
    band_x = (w.doc.graph.node("band").position or (0.0, 0.0))[0]
    assert band_x - dot_x == SIZE + COLUMN_GAP


def test_alt_drag_from_a_reroute_wires_its_value_to_another_input(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.reroute_item import insert_reroute

    w = window
    build_scene(w.doc)
    w.doc.add_node("field.remap", node_id="band2", position=(280, 560))
    dot = insert_reroute(w.scene, w.scene.wires[("band", "source")].link, QPointF(220, 300))
    assert dot is not None
    w.view.frame()
    left, alt = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier
    vp = w.view.viewport()
    start = w.view.mapFromScene(w.scene.node_item(dot).scene_body().center())
    end = w.view.mapFromScene(w.scene.port("band2", "source", output=False).scenePos())
    before = w.scene.node_item(dot).pos()
    _mouse(vp, QEvent.Type.MouseButtonPress, start, left, left, alt)
    _mouse(vp, QEvent.Type.MouseMove, (start + end) / 2, left, mods=alt)
    _mouse(vp, QEvent.Type.MouseMove, end, left, mods=alt)
    _mouse(vp, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton, left, alt)
    assert w.doc.graph.incoming("band2") == {"source": (dot, "value")}
    assert w.scene.node_item(dot).pos() == before  # the dot stayed where it was


def test_palette_lists_reroutes_folded_and_unfolds_them_for_a_search(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    palette = window.node_palette
    tops = {
        palette.tree.topLevelItem(i).text(0).split()[0]: palette.tree.topLevelItem(i)
        for i in range(palette.tree.topLevelItemCount())
    }
    assert not tops["util"].isExpanded() and tops["modulation"].isExpanded()
    palette.search.setText("reroute")
    assert tops["util"].isExpanded() and not tops["util"].isHidden()
    palette.search.setText("")
    assert not tops["util"].isExpanded() and tops["fields"].isExpanded()
