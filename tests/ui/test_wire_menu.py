"""Right-click on a wire, with the mouse: Insert reroute (where it was clicked) and Delete
link, each one undo step."""

from __future__ import annotations

from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication, QMenu

from .conftest import build_scene, wait_idle


def _right_click_and_choose(qtbot, w, at: QPoint, choice: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Right-click the canvas at ``at`` (viewport pixels), then click ``choice`` in the
    menu that opens; returns the menu's entries (empty: no menu opened)."""
    seen: list[str] = []

    def choose() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            return
        seen.extend(a.text().split("\t")[0] for a in menu.actions())
        action = next(a for a in menu.actions() if a.text().startswith(choice))
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(100, choose)
    # through the window, as the window system delivers it: Qt makes the context-menu
    # event out of the right button itself
    window_pos = w.view.viewport().mapTo(w, at)
    QTest.mouseClick(w.windowHandle(), Qt.MouseButton.RightButton, pos=window_pos)
    qtbot.waitUntil(lambda: QApplication.activePopupWidget() is None, timeout=3000)
    return seen


def _on_wire(w, dst: str, slot: str, fraction: float = 0.5):  # type: ignore[no-untyped-def]
    at = w.scene.wires[(dst, slot)].path().pointAtPercent(fraction)
    return at, w.view.mapFromScene(at)


def test_right_click_a_wire_inserts_a_reroute_where_it_was_clicked(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.reroute_item import RerouteItem

    w = window
    build_scene(w.doc)
    w.view.frame()
    wait_idle(qtbot, w)
    steps = w.doc.undo_stack.count()
    at, vp = _on_wire(w, "band", "source", 0.4)
    entries = _right_click_and_choose(qtbot, w, vp, "Insert reroute")
    assert entries == ["Insert reroute", "Delete link"]
    dots = [n for n in w.doc.node_ids() if w.doc.graph.node(n).type_id == "util.reroute_depth"]
    assert len(dots) == 1
    dot = dots[0]
    assert isinstance(w.scene.node_item(dot), RerouteItem)
    assert w.doc.graph.incoming(dot) == {"value": ("depth", "depth")}
    assert w.doc.graph.incoming("band") == {"source": (dot, "value")}
    # at the click point (within the pixel the click was rounded to), and selected
    assert (w.scene.node_item(dot).scene_body().center() - at).manhattanLength() < 3
    assert w.scene.selected_node_ids() == [dot]
    assert w.doc.undo_stack.count() == steps + 1  # one undo step
    w.doc.undo_stack.undo()
    assert dot not in w.doc.graph
    assert w.doc.graph.incoming("band") == {"source": ("depth", "depth")}


def test_right_click_a_wire_deletes_the_link_undoably(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.view.frame()
    wait_idle(qtbot, w)
    steps = w.doc.undo_stack.count()
    _at, vp = _on_wire(w, "band", "source")
    assert _right_click_and_choose(qtbot, w, vp, "Delete link")
    assert w.doc.graph.incoming("band") == {}
    assert ("band", "source") not in w.scene.wires
    assert "deleted" in w.status.full_text  # type: ignore[attr-defined]
    assert w.doc.undo_stack.count() == steps + 1
    w.doc.undo_stack.undo()
    assert w.doc.graph.incoming("band") == {"source": ("depth", "depth")}
    assert ("band", "source") in w.scene.wires


def test_right_click_off_the_wire_gives_the_canvas_menu(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.view.frame()
    wait_idle(qtbot, w)
    at, _vp = _on_wire(w, "band", "source")
    away = w.view.mapFromScene(at) + QPoint(0, 60)  # empty canvas below the wire
    entries = _right_click_and_choose(qtbot, w, away, "&Frame")
    assert entries and entries[0].startswith("Add node")
    assert "Insert reroute" not in entries and "Delete link" not in entries
    assert w.doc.graph.incoming("band") == {"source": ("depth", "depth")}
