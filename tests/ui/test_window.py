"""The real main window, offscreen: build, wire, tweak, undo, save, reopen, export."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtTest import QTest

from gateway_studio.engine import NodeFinished, patch_to_dict

from .conftest import IMAGES, PATCHES, build_scene, wait_idle


def dump(w) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(patch_to_dict(w.doc.graph), sort_keys=True)


def viewport_point(w, scene_pos: QPointF) -> QPoint:  # type: ignore[no-untyped-def]
    return w.view.mapFromScene(scene_pos)


def test_slider_drag_recomputes_only_downstream(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.doc.add_node("field.remap", node_id="after", position=(560, 240))
    assert (
        w.scene.try_connect(
            w.scene.port("band", "field", output=True),
            w.scene.port("after", "source", output=False),
        )
        is None
    )
    wait_idle(qtbot, w)
    w.scene.select_nodes(["band"])
    assert w.inspector.node_id == "band"
    events: list = []
    w.controller.eventReceived.connect(lambda rid, ev: events.append(ev))
    responses: list = []
    w.controller.evaluated.connect(responses.append)
    steps = w.doc.undo_stack.count()
    slider = w.inspector.editors["gamma"].slider
    slider.setSliderDown(True)  # the user grabs the handle…
    for pos in (300, 320, 340):
        slider.setValue(pos)  # …drags…
        qtbot.wait(5)
    wait_idle(qtbot, w)
    assert responses and 256 <= (responses[-1].preview or 0) <= 1024  # previews while dragging
    slider.setSliderDown(False)  # …and lets go: full resolution
    wait_idle(qtbot, w)
    assert responses[-1].preview is None
    recomputed = {ev.node_id for ev in events if isinstance(ev, NodeFinished) and not ev.cached}
    cached = {ev.node_id for ev in events if isinstance(ev, NodeFinished) and ev.cached}
    assert recomputed == {"band", "after"}
    assert {"photo", "depth"} <= cached
    assert w.doc.undo_stack.count() == steps + 1  # the whole drag is one undo step
    gamma = w.doc.graph.node("band").params["gamma"]
    assert gamma == pytest.approx(w.inspector.editors["gamma"].value())
    assert gamma != 1.0
    w.act_undo.trigger()
    assert w.doc.graph.node("band").params["gamma"] == 1.0
    assert w.inspector.editors["gamma"].value() == pytest.approx(1.0)


def test_undo_redo_through_the_window(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    empty = dump(w)
    build_scene(w.doc)
    w.scene.select_nodes(["band"])
    w.duplicate()
    w.toggle_bypass()
    w.scene.select_nodes(["depth"])
    w.scene.delete_selection()
    final = dump(w)
    while w.doc.undo_stack.canUndo():
        w.act_undo.trigger()
    assert dump(w) == empty and not w.scene.nodes
    while w.doc.undo_stack.canRedo():
        w.act_redo.trigger()
    assert dump(w) == final
    assert set(w.scene.nodes) == set(w.doc.node_ids())
    assert len(w.scene.wires) == len(w.doc.graph.links())


def test_refused_connection_leaves_graph_unchanged_and_says_why(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    before, steps = dump(w), w.doc.undo_stack.count()
    reason = w.scene.try_connect(
        w.scene.port("photo", "image", output=True), w.scene.port("band", "source", output=False)
    )
    assert reason is not None and "incompatible slot types" in reason
    assert dump(w) == before and w.doc.undo_stack.count() == steps
    assert "incompatible slot types" in w.status.text()


def _drag(w, start: QPointF, end: QPointF) -> None:  # type: ignore[no-untyped-def]
    """A real press-move-release on the canvas viewport (moves carry the held button)."""
    from qtpy.QtCore import QEvent
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtWidgets import QApplication

    vp = w.view.viewport()
    a, b = viewport_point(w, start), viewport_point(w, end)
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier

    def send(kind, p: QPoint, button, buttons) -> None:  # type: ignore[no-untyped-def]
        pf = QPointF(p)
        ev = QMouseEvent(kind, pf, QPointF(vp.mapToGlobal(p)), button, buttons, mods)
        QApplication.sendEvent(vp, ev)

    send(QEvent.Type.MouseButtonPress, a, left, left)
    for t in (0.25, 0.5, 0.75, 1.0):
        p = QPoint(int(a.x() + (b.x() - a.x()) * t), int(a.y() + (b.y() - a.y()) * t))
        send(QEvent.Type.MouseMove, p, none, left)
    send(QEvent.Type.MouseButtonRelease, b, left, none)


def test_mouse_drag_connects_and_drags_off_to_disconnect(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.doc.add_node("field.remap", node_id="after", position=(560, 240))
    w.view.frame()
    out = w.scene.port("band", "field", output=True)
    inp = w.scene.port("after", "source", output=False)
    _drag(w, out.scenePos(), inp.scenePos())
    assert w.doc.graph.incoming("after") == {"source": ("band", "field")}
    # an incompatible drop is refused visibly and changes nothing
    before = dump(w)
    _drag(
        w,
        w.scene.port("photo", "image", output=True).scenePos(),
        w.scene.port("band", "source", output=False).scenePos(),
    )
    assert dump(w) == before
    assert "refused" in w.status.text()
    # drag the wire's end off the input into empty canvas: disconnected
    _drag(w, inp.scenePos(), inp.scenePos() + QPointF(0, 160))
    assert "source" not in w.doc.graph.incoming("after")
    w.act_undo.trigger()
    assert w.doc.graph.incoming("after") == {"source": ("band", "field")}


def test_node_error_shows_on_that_node_while_the_rest_renders(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.doc.set_param("depth", "path", str(IMAGES / "missing_depth.png"))
    wait_idle(qtbot, w)
    depth, band, photo = (w.scene.node_item(n) for n in ("depth", "band", "photo"))
    assert depth.state.status == "failed"
    assert "missing_depth.png" in depth.toolTip()
    text, color = depth.status_text()
    assert text.startswith("error") and color.red() > 200
    assert band.state.status == "skipped"
    assert photo.state.status == "computed" and photo.thumbnail is not None
    # a fix clears the error
    w.doc.set_param("depth", "path", str(IMAGES / "scene_depth.png"))
    wait_idle(qtbot, w)
    assert depth.state.status == "computed" and band.thumbnail is not None


def test_viewer_shows_depth_lighter_when_nearer_and_reads_values(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["depth"])
    wait_idle(qtbot, w)
    qtbot.waitUntil(
        lambda: w.viewer.view_image is not None and w.viewer.view_image.node_id == "depth",
        timeout=10000,
    )
    view = w.viewer.view_image
    depth = view.slot.values
    near = np.unravel_index(np.argmax(depth), depth.shape)
    far = np.unravel_index(np.argmin(depth), depth.shape)
    img = view.image
    lum = lambda yx: img.pixelColor(int(yx[1]), int(yx[0])).value()  # noqa: E731
    assert lum(near) > lum(far) + 100  # lighter = closer
    assert "depth" in w.viewer.value_at(int(near[1]), int(near[0]))
    # false colour: the same node through the turbo LUT
    w.viewer.colormap_box.setCurrentText("turbo")
    w.viewer._options_changed()
    qtbot.waitUntil(lambda: w.viewer.view_image is not view, timeout=10000)
    c = w.viewer.view_image.image.pixelColor(int(near[1]), int(near[0]))
    assert c.red() > 100 and c.blue() < 100  # turbo's near end is red, not gray


def test_save_close_open_gives_identical_graph(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    w = window
    build_scene(w.doc)
    w.doc.add_backdrop("Depth", (-30.0, 200.0, 700.0, 280.0))
    assert w.isWindowModified()
    path = tmp_path / "patch.json"
    assert w.files.save_to(path)
    assert not w.isWindowModified() and "patch.json" in w.windowTitle()
    saved = dump(w)
    w.doc.undo_stack.setClean()
    w.close()
    other = MainWindow(evaluator=Evaluator(SlotCache(None)), session=Session(tmp_path / "config"))
    qtbot.addWidget(other)
    try:
        assert other.files.open_path(path)
        assert dump(other) == saved
        assert len(other.scene.backdrop_items) == 1
        assert Path(other.session.recent()[0]) == path.resolve()
    finally:
        other.shutdown()


def test_copy_paste_through_the_clipboard(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtWidgets import QApplication

    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["depth", "band"])
    w.copy()
    text = QApplication.clipboard().text()
    assert json.loads(text)["format"] == "gateway-studio.patch"
    w.paste()
    new = set(w.doc.node_ids()) - {"photo", "depth", "band"}
    assert len(new) == 2
    assert set(w.scene.selected_node_ids()) == new
    links = [lk for lk in w.doc.graph.links() if lk.dst in new]
    assert len(links) == 1 and links[0].src in new


def test_autosave_is_offered_after_a_crash(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    w = window
    build_scene(w.doc)
    w.files.autosave()
    autosave = w.session.autosave_file
    assert autosave.exists()
    crashed = autosave.with_name("autosave-999999.json")  # a process that is gone
    shutil.copy(autosave, crashed)
    state = dump(w)
    other = MainWindow(evaluator=Evaluator(SlotCache(None)), session=Session(tmp_path / "config"))
    qtbot.addWidget(other)
    try:
        assert other.files.offer_recovery() is not None
        assert other.files.recover()
        assert dump(other) == state and other.doc.dirty
        assert not crashed.exists()
    finally:
        other.doc.undo_stack.setClean()
        other.doc._recovered = False
        other.shutdown()
    assert os.getpid() != 999999


def test_export_full_resolution_png_and_16bit_depth(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image as PILImage

    w = window
    build_scene(w.doc)
    done: list = []
    job = w.exporter.export("band", None, tmp_path / "band.png")
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(30)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert done[0][1] == ""
    with PILImage.open(tmp_path / "band.png") as im:
        assert im.size == (960, 640)
    done.clear()
    job = w.exporter.export("depth", None, tmp_path / "depth.png")
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(30)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    with PILImage.open(tmp_path / "depth.png") as im:
        assert im.mode.startswith("I;16") or im.mode == "I"  # 16-bit, as the slot has it


def test_render_batch_over_a_folder(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine.batch import plan_batch

    w = window
    w.doc.add_node(
        "source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo", position=(0, 0)
    )
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("coffee.png", "astronaut.png"):
        shutil.copy(IMAGES / name, folder / name)
    from PIL import Image as PILImage

    PILImage.open(IMAGES / "coffee.png").convert("RGB").save(folder / "coffee.jpg")
    plan = plan_batch(w.doc.graph, sorted(folder.iterdir()), tmp_path / "out", source="photo")
    done: list = []
    job = w.batch.render(plan, modal=False)
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(60)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    result, error = done[0]
    assert error == "" and all(r.ok for r in result)
    # coffee.png and coffee.jpg must not write one output file over the other
    assert sorted(Path(p).name for r in result for p in r.written) == [
        "astronaut.png",
        "coffee_jpg.png",
        "coffee_png.png",
    ]


def test_drop_image_and_tab_search_add_nodes(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QMimeData, QUrl
    from qtpy.QtGui import QDropEvent

    w = window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(IMAGES / "coffee.png"))])
    drop = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    w.view.dropEvent(drop)
    sources = [n for n in w.doc.graph.nodes() if n.type_id == "source.image"]
    assert len(sources) == 1 and sources[0].params["path"].endswith("coffee.png")
    # Tab on the canvas opens the search; Enter adds the node, wired to the selection
    w.doc.add_node(
        "depth.from_file",
        {"path": str(IMAGES / "scene_depth.png")},
        node_id="depth",
        position=(0, 300),
    )
    w.scene.select_nodes(["depth"])
    w.view.setFocus()
    QTest.keyClick(w.view, Qt.Key.Key_Tab)
    assert w.search_popup.isVisible()
    QTest.keyClicks(w.search_popup.line, "field.remap")
    QTest.keyClick(w.search_popup.line, Qt.Key.Key_Return)
    remaps = [n.id for n in w.doc.graph.nodes() if n.type_id == "field.remap"]
    assert len(remaps) == 1
    assert w.doc.graph.incoming(remaps[0]) == {"source": ("depth", "depth")}


def test_backdrop_moves_its_nodes_in_one_step(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["depth", "band"])
    w.add_backdrop()
    w.scene.clearSelection()
    w.view.frame()
    backdrop = w.scene.backdrop_items[0]
    steps = w.doc.undo_stack.count()
    title = backdrop.scenePos() + QPointF(backdrop.backdrop.rect[2] - 40, 12)
    _drag(w, title, title + QPointF(100, 50))
    moved = backdrop.scenePos() - QPointF(*w.doc.graph.backdrops[0].rect[:2])
    assert moved.manhattanLength() < 1
    dx = w.doc.graph.node("band").position[0] - 280
    assert dx > 20  # the node on the backdrop came along
    assert w.doc.graph.node("photo").position == (0.0, 0.0)  # the one outside did not
    assert w.doc.undo_stack.count() == steps + 1
    w.act_undo.trigger()
    assert w.doc.graph.node("band").position == (280.0, 240.0)


def test_examples_menu_lists_shipped_patches(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    titles = [a.text() for a in window.examples_menu.actions() if not a.isSeparator()]
    assert len(titles) == len(list(PATCHES.glob("*.json"))) >= 1
    window.files.open_example(PATCHES / "depth_band.json")
    assert window.doc.path is None and len(window.doc.graph) >= 3
    wait_idle(qtbot, window)
    assert all(window.scene.node_item(n).state.status != "failed" for n in window.doc.node_ids())


def test_palette_search_and_double_click_add(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    palette = w.node_palette
    families = {
        palette.tree.topLevelItem(i).text(0).split()[0]
        for i in range(palette.tree.topLevelItemCount())
    }
    assert set(w.registry.families()) == families  # whatever the registry has
    palette.search.setText("remap")
    visible = [
        palette.tree.topLevelItem(i).child(j)
        for i in range(palette.tree.topLevelItemCount())
        for j in range(palette.tree.topLevelItem(i).childCount())
        if not palette.tree.topLevelItem(i).child(j).isHidden()
    ]
    assert [item.data(0, Qt.ItemDataRole.UserRole) for item in visible] == ["field.remap"]
    palette.tree.itemDoubleClicked.emit(visible[0], 0)
    assert [n.type_id for n in w.doc.graph.nodes()] == ["field.remap"]


def test_zoom_around_cursor_and_frame(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.view.frame()
    rect = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert rect.contains(w.scene.items_rect())  # everything in view
    before = w.view.zoom
    w.view.zoom_by(2.0)
    assert w.view.zoom == pytest.approx(min(before * 2, 4.0))
    w.view.zoom_by(1000)
    assert w.view.zoom == pytest.approx(4.0)  # clamped
    w.scene.select_nodes(["photo"])
    w.frame()
    centre = w.view.mapToScene(w.view.viewport().rect().center())
    assert w.scene.node_item("photo").sceneBoundingRect().contains(centre)


def test_escape_drops_a_wire_being_dragged_and_changes_nothing(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QEvent
    from qtpy.QtGui import QMouseEvent
    from qtpy.QtWidgets import QApplication

    w = window
    build_scene(w.doc)
    w.view.frame()
    wait_idle(qtbot, w)
    before = dump(w)
    inp = w.scene.port("band", "source", output=False)
    vp = w.view.viewport()
    p = viewport_point(w, inp.scenePos())
    left, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    press = QMouseEvent(
        QEvent.Type.MouseButtonPress, QPointF(p), QPointF(vp.mapToGlobal(p)), left, left, mods
    )
    QApplication.sendEvent(vp, press)  # pull the wire off the input…
    assert w.scene._drag is not None
    w.act_cancel.trigger()  # …and press Esc
    assert w.scene._drag is None
    assert dump(w) == before
    assert w.scene.wires[("band", "source")].isVisible()
