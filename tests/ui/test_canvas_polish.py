"""Regressions found by using the app as an artist would (QA pass on the desktop app)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt

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
    # and it is scrolled into sight (right of the framed graph is past the view's edge)
    visible = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    assert visible.contains(new)


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


def test_an_unwired_node_asks_for_its_inputs_instead_of_showing_an_error(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """A freshly added node is not broken: it used to turn red with 'error (hover...)'."""
    w = window
    build_scene(w.doc)
    w.doc.add_node("modulate.isolate", node_id="iso", position=(600, 0))
    wait_idle(qtbot, w)
    iso = w.scene.node_item("iso")
    assert iso.state.status == "failed" and iso.needs_input
    text, color = iso.status_text()
    assert text == "connect image, depth"
    assert color.red() < 200  # muted, not the error red
    assert "error" not in text
    # a real failure is still an error
    w.doc.set_param("depth", "path", "/nonexistent/missing_depth.png")
    wait_idle(qtbot, w)
    depth = w.scene.node_item("depth")
    assert not depth.needs_input and depth.status_text()[0].startswith("error")


def test_error_text_on_a_node_wraps_between_words() -> None:
    """'...not connected: i|mage' — messages used to break in the middle of words."""
    from qtpy.QtGui import QFont, QTextLayout

    from gateway_studio.ui.canvas.node_item import WRAP

    text = "model 'depth-anything-v2-small' is not available locally. Looked in the cache"
    layout = QTextLayout(text, QFont())
    layout.setTextOption(WRAP)
    layout.beginLayout()
    breaks = []
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(120)
        breaks.append(line.textStart())
    layout.endLayout()
    assert len(breaks) > 2
    for start in breaks[1:]:
        # every line starts a word: the char before a break is a space or a hyphen
        assert text[start - 1] in " -", text[start - 1 : start + 5]


def test_viewer_caption_gives_way_to_the_slot_picker(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """A titled node's caption ran into the controls ('… · 741×500slot'); beside them a
    narrow viewer then cut it to 'Gara…×500': it now has a row of its own."""
    w = window
    build_scene(w.doc)
    w.doc.set_title(
        "band", "A rather long title for the depth band of the garage scene, too long for a viewer"
    )
    w.scene.select_nodes(["band"])
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.viewer.view_image is not None, timeout=10000)
    viewer = w.viewer
    viewer.resize(300, 400)
    qtbot.wait(50)
    caption, slot_box = viewer.caption, viewer.slot_box
    assert caption.geometry().bottom() < slot_box.geometry().top() + 4  # a row above them
    assert "…" in caption.text() and caption.text().startswith("A rather long title")
    tip = caption.toolTip()
    assert tip.endswith("Field 960×640") and tip.startswith("A rather") and "(band)" in tip
    assert caption.fontMetrics().horizontalAdvance(caption.text()) <= caption.width()


def test_inspector_number_boxes_line_up_and_show_sane_decimals(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    """point_cloud's 'near' read 2.400000 in a wider box, so its slider was shorter."""
    from gateway_studio.ui.inspector import Inspector, NumberEditor

    doc.add_node("geometry.point_cloud", node_id="cloud")
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    inspector.resize(520, 600)
    inspector.show()
    inspector.set_node("cloud")
    qtbot.wait(50)
    numbers = [e for e in inspector.editors.values() if isinstance(e, NumberEditor)]
    assert len(numbers) >= 4
    assert len({e.spin.width() for e in numbers}) == 1
    sliders = [e.slider for e in numbers if e.slider is not None]
    assert len({s.width() for s in sliders}) == 1
    near = inspector.editors["near"]
    assert isinstance(near, NumberEditor)  # (its range now starts at 0: no log slider)
    assert near.spin.decimals() <= 3 and near.spin.textFromValue(2.4) == "2.400"


def test_export_dialog_choices_give_16_bit_tiff_and_add_the_extension(
    qtbot, window, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Exporting the (8-bit-sourced) final image to TIFF always gave 8 bits, and a name
    typed without an extension failed: the filter now decides both."""
    import cv2

    from gateway_studio.ui.jobs import export_choice

    assert export_choice(str(tmp_path / "final"), "TIFF 16-bit (*.tif *.tiff)") == (
        tmp_path / "final.tif",
        "16",
    )
    assert export_choice(str(tmp_path / "a.png"), "PNG (*.png)") == (tmp_path / "a.png", "auto")
    assert export_choice(str(tmp_path / "b.jpg"), "TIFF 16-bit (*.tif *.tiff)")[1] == "auto"
    w = window
    build_scene(w.doc)
    done: list = []
    for name, bits in (("photo16.tif", "16"), ("photo8.tif", "auto")):
        job = w.exporter.export("photo", None, tmp_path / name, bit_depth=bits)
        job.done.connect(lambda r, e: done.append((r, e)))
        job.wait(30)
    qtbot.waitUntil(lambda: len(done) == 2, timeout=10000)
    assert all(e == "" for _r, e in done)
    sixteen = cv2.imread(str(tmp_path / "photo16.tif"), cv2.IMREAD_UNCHANGED)
    eight = cv2.imread(str(tmp_path / "photo8.tif"), cv2.IMREAD_UNCHANGED)
    assert sixteen.dtype == np.uint16 and sixteen.shape == (640, 960, 3)
    assert eight.dtype == np.uint8
    # same picture, more precision
    assert np.abs(sixteen.astype(np.float64) / 257 - eight).max() <= 1.0


def test_select_all_says_how_many_and_does_not_flick_through_the_first_node(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Ctrl+A showed 'No node selected' and switched the viewer to the first node."""
    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["band"])
    wait_idle(qtbot, w)
    seen: list[str | None] = []
    w.scene.selectionChanged.connect(lambda: seen.append(w.inspector.node_id))
    w.select_all()
    assert len(seen) == 1  # one change for the whole group
    assert w.inspector.title.text() == "3 nodes selected"
    assert w.viewed == "band"  # the viewer keeps what it showed
    w.scene.clearSelection()
    assert w.inspector.title.text() == "No node selected"


def test_a_shipped_example_opened_as_a_file_is_an_untitled_copy(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """`gateway-studio resources/patches/motorcycle.json` (or Open recent, or a drop) took
    the shipped file as the document: Save — offered again on close — overwrote it."""
    from .conftest import PATCHES

    example = PATCHES / "motorcycle.json"
    before = example.read_bytes()
    assert window.files.open_path(example, ask=False)
    assert window.doc.path is None and len(window.doc.graph) >= 3
    assert window.windowTitle().startswith("motorcycle (example)")  # untitled, by its name
    wait_idle(qtbot, window)
    assert all(window.scene.node_item(n).state.status != "failed" for n in window.doc.node_ids())
    assert example.read_bytes() == before


def test_examples_menu_puts_the_real_photo_first(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    actions = window.examples_menu.actions()
    separators = [i for i, a in enumerate(actions) if a.isSeparator()]
    assert len(separators) == 1
    photo, synthetic = actions[: separators[0]], actions[separators[0] + 1 :]
    assert photo and synthetic
    assert all(a.text().startswith("Motorcycle") for a in photo)
    assert not any(a.text().startswith("Motorcycle") for a in synthetic)


def test_a_long_status_message_is_elided_not_run_under_the_progress_text(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.resize(900, 600)
    w._progress(1.0, "evaluated (full resolution) in 21 ms")
    text = "example motorcycle_isolate: " + "a fast-lens look, the garage melts away " * 8
    w.show_message(text)
    qtbot.wait(50)
    status = w.status
    assert status.toolTip() == text and "…" in status.text()
    assert status.fontMetrics().horizontalAdvance(status.text()) <= status.width()
    assert status.geometry().right() < w.eval_label.geometry().left()


def test_depth_estimate_without_weights_says_model_missing_on_the_node(
    qtbot, window, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """No crash; the node fails with a short, readable message that ends with the command
    to get the model (the full one, with every folder looked in, is in the tooltip)."""
    from gateway_studio.ui.canvas.node_item import brief_message

    from .conftest import IMAGES

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w = window
    w.doc.add_node("source.image", {"path": str(IMAGES / "astronaut.png")}, node_id="photo")
    w.doc.add_node("depth.estimate", node_id="depth", position=(300, 0))
    w.doc.link("photo", "image", "depth", "image")
    wait_idle(qtbot, w, timeout=60000)
    depth, photo = w.scene.node_item("depth"), w.scene.node_item("photo")
    assert photo.state.status in ("computed", "cached")
    assert depth.state.status == "failed" and not depth.needs_input
    assert "models pull depth-anything-v2-small" in depth.toolTip()
    short = brief_message(depth.state.message)
    assert short.endswith("Get it with: gateway-studio models pull depth-anything-v2-small")
    assert short.count("\n") == 1 and len(short) < 140
    assert brief_message("no such file") == "no such file"  # other errors unchanged


def test_tab_search_popup_fits_its_matches_and_stays_on_screen(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """The popup kept its 320-px list for one match (a big empty box), and opened partly
    off-screen when Tab was pressed near the screen's edge."""
    from qtpy.QtCore import QPoint
    from qtpy.QtTest import QTest

    popup = window.search_popup
    screen = window.screen().availableGeometry()
    popup.popup_at(QPoint(screen.right() - 20, screen.bottom() - 20))
    qtbot.waitUntil(popup.isVisible)
    full = popup.height()
    assert screen.contains(popup.geometry())
    QTest.keyClicks(popup.line, "sample_rgbd")
    assert popup.list.count() == 1
    assert popup.height() < full / 2
    assert screen.contains(popup.geometry())
    QTest.keyClick(popup.line, Qt.Key.Key_Escape)
    assert not popup.isVisible()


def test_ctrl_z_in_a_number_box_undoes_the_edit(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Type 0.5, Enter, Ctrl+Z: the box's own text undo swallowed the key, nothing undone."""
    from qtpy.QtTest import QTest

    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["band"])
    wait_idle(qtbot, w)
    w.activateWindow()
    spin = w.inspector.editors["band_width"].spin
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.selectAll()
    QTest.keyClicks(spin, "0.5")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert w.doc.graph.node("band").params["band_width"] == 0.5
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.graph.node("band").params["band_width"] == 0.2
    assert spin.value() == 0.2  # the box follows the document
    QTest.keyClick(
        spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert w.doc.graph.node("band").params["band_width"] == 0.5
    # mid-edit (typed, not committed) the box keeps its own text undo
    spin.selectAll()
    QTest.keyClicks(spin, "0.7")
    QTest.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.doc.graph.node("band").params["band_width"] == 0.5


def test_after_a_palette_add_the_canvas_keys_act_on_the_new_node(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Double-click Export in the palette, press Delete: the key went to the palette list."""
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    w = window
    w.activateWindow()
    palette = w.node_palette
    palette.search.setText("remap")
    item = next(
        palette.tree.topLevelItem(i).child(j)
        for i in range(palette.tree.topLevelItemCount())
        for j in range(palette.tree.topLevelItem(i).childCount())
        if not palette.tree.topLevelItem(i).child(j).isHidden()
    )
    palette.tree.setFocus()
    palette.tree.itemDoubleClicked.emit(item, 0)
    assert len(w.doc.graph) == 1
    focus = QApplication.focusWidget()
    assert focus is w.view or w.view.isAncestorOf(focus)
    QTest.keyClick(focus, Qt.Key.Key_Delete)
    assert len(w.doc.graph) == 0


def test_source_nodes_offer_no_bypass(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Bypassing a source turned it into an error ('no input can stand in for output')."""
    w = window
    build_scene(w.doc)
    wait_idle(qtbot, w)
    photo, band = w.scene.node_item("photo"), w.scene.node_item("band")
    assert not photo.can_bypass and band.can_bypass
    w.scene.select_nodes(["photo"])
    assert not w.inspector.bypass.isEnabled()
    w.toggle_bypass()  # the B key
    assert not w.doc.graph.node("photo").bypass
    assert "nothing to bypass" in w.status.toolTip()
    w.scene.select_nodes(["photo", "band"])  # a mixed selection bypasses what it can
    w.toggle_bypass()
    assert w.doc.graph.node("band").bypass and not w.doc.graph.node("photo").bypass
    w.scene.select_nodes(["band"])
    assert w.inspector.bypass.isEnabled() and w.inspector.bypass.isChecked()
    wait_idle(qtbot, w)
    assert w.controller.state("photo").status in ("computed", "cached")


def test_saving_an_example_elsewhere_writes_readable_paths(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Save As of the fog example into /tmp wrote '../../../../../work/main/resources/…':
    with nothing in common but the root, the path is stored absolute."""
    import json
    import os

    from .conftest import IMAGES, PATCHES

    w = window
    w.files.open_example(PATCHES / "fog.json")
    target = tmp_path / "mine" / "fog.json"
    target.parent.mkdir()
    assert w.files.save_to(target)
    nodes = {n["id"]: n for n in json.loads(target.read_text())["nodes"]}
    photo = nodes["photo"]["params"]["path"]
    if os.path.commonpath([tmp_path.resolve(), IMAGES.resolve()]) == tmp_path.anchor:
        assert photo == (IMAGES / "scene.png").resolve().as_posix()  # (true on this machine)
    assert (target.parent / photo).resolve() == (IMAGES / "scene.png").resolve()
    w.files.open_path(target, ask=False)
    wait_idle(qtbot, w)
    assert w.controller.state("photo").status in ("computed", "cached")


def _wheel(widget, steps: int = -1) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QPoint, QPointF
    from qtpy.QtGui import QWheelEvent
    from qtpy.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_scrolling_over_the_inspector_does_not_change_knobs(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    """The wheel changed every knob it crossed; a choice even changed on screen only."""
    from gateway_studio.ui.inspector import Inspector

    doc.add_node("output.export", node_id="export")
    doc.add_node("field.remap", {"band_width": 0.2}, node_id="band")
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    inspector.show()
    inspector.set_node("export")
    combo = inspector.editors["bit_depth"].combo
    _wheel(combo)
    assert combo.currentText() == "auto" and doc.graph.node("export").params["bit_depth"] == "auto"
    inspector.set_node("band")
    editor = inspector.editors["band_width"]
    _wheel(editor.slider)
    _wheel(editor.spin)
    assert doc.graph.node("band").params["band_width"] == 0.2
    assert editor.spin.value() == 0.2 and doc.undo_stack.count() == 2  # the two adds only
    # clicked (focused) first, the wheel does work — and edits the patch, not just the combo
    inspector.set_node("export")
    combo = inspector.editors["bit_depth"].combo
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    _wheel(combo)
    assert combo.currentText() == "8" and doc.graph.node("export").params["bit_depth"] == "8"
    inspector.set_node("band")
    editor = inspector.editors["band_width"]
    editor.spin.setFocus()
    qtbot.waitUntil(editor.spin.hasFocus)
    _wheel(editor.spin, steps=1)
    assert doc.graph.node("band").params["band_width"] != 0.2


def test_viewer_colour_map_follows_the_combo_however_it_changes(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """The wheel over the colour-map combo made it say 'turbo' over a gray picture."""
    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["depth"])
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.viewer.view_image is not None, timeout=10000)
    gray = w.viewer.view_image
    _wheel(w.viewer.colormap_box, steps=-1)  # down one entry: turbo
    assert w.viewer.colormap == "turbo"
    assert w.controller.view_spec is not None and w.controller.view_spec.colormap == "turbo"
    qtbot.waitUntil(lambda: w.viewer.view_image is not gray, timeout=10000)
    img = w.viewer.view_image.image
    colours = {img.pixelColor(x, y).name() for x in range(0, img.width(), 37) for y in (5, 300)}
    assert any(len({c[1:3], c[3:5], c[5:7]}) > 1 for c in colours)  # not gray any more


def test_renaming_the_viewed_node_updates_the_viewer_caption(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    w.scene.select_nodes(["band"])
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.viewer.view_image is not None, timeout=10000)
    w.inspector.title_edit.setText("Band of the sphere")
    w.inspector.title_edit.editingFinished.emit()
    assert w.viewer.caption.full_text.startswith("Band of the sphere · Field")
    w.doc.undo_stack.undo()
    assert w.viewer.caption.full_text.startswith("band · Field")
    # the inspector follows the undo too (heading and field kept the old title)
    assert w.inspector.title.text() == "band" and w.inspector.title_edit.text() == ""
    w.doc.undo_stack.redo()
    assert w.inspector.title.text() == "Band of the sphere"
    assert w.inspector.title_edit.text() == "Band of the sphere"


def test_an_unreaped_crashed_window_counts_as_gone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Restarting right after a crash offered nothing: the dead window was still a zombie
    (its parent had not reaped it) and kill(pid, 0) said it was alive."""
    import json
    import subprocess
    import sys
    import time

    from gateway_studio.ui.session import Session

    session = Session(tmp_path / "config")
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # exits; not waited for yet
    try:
        deadline = time.monotonic() + 10
        stat = Path(f"/proc/{child.pid}/stat")
        while time.monotonic() < deadline and stat.exists():
            if stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break
            time.sleep(0.02)
        session.recovery_dir.mkdir(parents=True)
        data = {"saved": time.time(), "path": None, "patch": {"nodes": []}}
        (session.recovery_dir / f"autosave-{child.pid}.json").write_text(json.dumps(data))
        found = session.orphaned()
        assert [r.file.name for r in found] == [f"autosave-{child.pid}.json"]
    finally:
        child.wait()


def test_adding_after_a_photo_and_depth_source_wires_both(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    w.doc.add_node("source.sample_rgbd", {"name": "motorcycle"}, node_id="moto")
    w.scene.select_nodes(["moto"])
    iso = w.add_node_at("modulate.isolate", None)
    assert w.doc.graph.incoming(iso) == {"image": ("moto", "image"), "depth": ("moto", "depth")}
    wait_idle(qtbot, w)
    assert w.controller.state(iso).status == "computed"
    w.doc.undo_stack.undo()  # node and both wires: one step
    assert iso not in w.doc.graph and len(w.doc.graph) == 1


def test_rubber_band_selection_does_not_flick_the_viewer(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """While a rubber band grew over two nodes, the viewer switched to the first one caught."""
    from qtpy.QtCore import QPointF

    from .test_window import _drag

    w = window
    build_scene(w.doc)
    w.view.frame()
    w.scene.select_nodes(["band"])
    wait_idle(qtbot, w)
    viewed: list[str | None] = []
    w.controller.viewChanged.connect(lambda *_: viewed.append(w.viewed))
    titles: list[str] = []
    w.scene.selectionChanged.connect(lambda: titles.append(w.inspector.title.text()))
    photo = w.scene.node_item("photo").sceneBoundingRect()
    depth = w.scene.node_item("depth").sceneBoundingRect()
    start = photo.topLeft() - QPointF(30, 30)
    end = QPointF(depth.center().x(), depth.bottom() + 10)
    _drag(w, start, end)
    assert sorted(w.scene.selected_node_ids()) == ["depth", "photo"]
    assert w.inspector.title.text() == "2 nodes selected"
    assert w.viewed == "band"  # the viewer never left what it showed
    # the press on empty canvas clears the selection; then nothing until the band is let go
    assert "photo" not in titles and "depth" not in titles, titles


def test_batch_checks_its_folders_before_rendering(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A mistyped images folder raised inside the dialog's slot (nothing happened, a
    traceback on stderr); the images folder as output folder overwrote the photos."""
    import shutil

    from .conftest import IMAGES

    w = window
    w.doc.add_node("source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo")
    assert w.batch.start(str(tmp_path / "nope"), str(tmp_path / "out"), "photo") is None
    assert "is not a folder" in w.status.toolTip()
    folder = tmp_path / "in"
    folder.mkdir()
    assert w.batch.start(str(folder), str(tmp_path / "out"), "photo") is None
    assert "no images" in w.status.toolTip()
    for name in ("coffee.png", "astronaut.png"):
        shutil.copy(IMAGES / name, folder / name)
    before = (folder / "coffee.png").read_bytes()
    assert w.batch.start(str(folder), str(folder), "photo") is None
    assert "other than the images folder" in w.status.toolTip()
    assert (folder / "coffee.png").read_bytes() == before
    done: list = []
    job = w.batch.start(str(folder), str(tmp_path / "out"), "photo", modal=False)
    assert job is not None
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(60)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert done[0][1] == "" and sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "astronaut.png",
        "coffee.png",
    ]


def test_the_window_layout_comes_back_on_the_next_start(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Docks closed or resized were back to the defaults on every start."""
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    def make() -> MainWindow:
        w = MainWindow(
            evaluator=Evaluator(SlotCache(None)),
            session=Session(tmp_path / "cfg"),
            autosave_seconds=3600,
        )
        qtbot.addWidget(w)
        return w

    first = make()
    assert not first.restore_layout()  # nothing saved yet: the defaults
    first.show()
    qtbot.waitExposed(first)
    first.palette_dock.close()
    first.resize(720, 520)  # within the offscreen screen, which restoreGeometry clamps to
    assert first.close()
    second = make()
    assert second.restore_layout()
    second.show()
    qtbot.waitExposed(second)
    assert not second.palette_dock.isVisible() and second.viewer_dock.isVisible()
    assert (second.width(), second.height()) == (720, 520)
    second.shutdown()


def test_save_as_suggests_the_example_name_in_a_sensible_folder(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Save As of an example offered 'untitled.json' in the app's working directory."""
    from .conftest import PATCHES

    w = window
    w.files.open_example(PATCHES / "fog.json")
    start = w.files.save_as_start()
    assert start.name == "fog.json" and start.parent != PATCHES.resolve()
    assert start.parent == Path.home() or start.parent.is_dir()
    saved = tmp_path / "work" / "mine.json"
    saved.parent.mkdir()
    assert w.files.save_to(saved)
    assert w.files.save_as_start() == saved.resolve()
    w.files.new_patch()
    assert w.files.save_as_start() == saved.parent.resolve() / "untitled.json"  # the last folder


def test_refused_connection_message_does_not_linger(qtbot, window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """'refused: cannot connect …' stayed in the status bar for good, after later edits."""
    from gateway_studio.ui import main_window

    monkeypatch.setattr(main_window, "GESTURE_MESSAGE_SECONDS", 0.2)
    w = window
    build_scene(w.doc)
    reason = w.scene.try_connect(
        w.scene.port("photo", "image", output=True), w.scene.port("band", "source", output=False)
    )
    assert reason and w.status.toolTip().startswith("refused")
    qtbot.waitUntil(lambda: w.status.toolTip() == "", timeout=3000)
    w.show_message("saved somewhere")  # ordinary messages stay
    qtbot.wait(400)
    assert w.status.toolTip() == "saved somewhere"


def test_palette_enter_adds_the_first_match_or_the_current_entry(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Typing 'isolate' in the palette search and pressing Enter did nothing."""
    from qtpy.QtTest import QTest

    w = window
    palette = w.node_palette
    QTest.keyClicks(palette.search, "isolate")
    QTest.keyClick(palette.search, Qt.Key.Key_Return)
    assert [n.type_id for n in w.doc.graph.nodes()] == ["modulate.isolate"]
    palette.search.clear()
    QTest.keyClick(palette.search, Qt.Key.Key_Return)  # empty search: nothing to add
    assert len(w.doc.graph) == 1
    tree = palette.tree
    item = next(
        tree.topLevelItem(i).child(j)
        for i in range(tree.topLevelItemCount())
        for j in range(tree.topLevelItem(i).childCount())
        if tree.topLevelItem(i).child(j).data(0, Qt.ItemDataRole.UserRole) == "output.export"
    )
    tree.setCurrentItem(item)
    QTest.keyClick(tree, Qt.Key.Key_Return)
    assert sorted(n.type_id for n in w.doc.graph.nodes()) == ["modulate.isolate", "output.export"]
    # a double-click adds exactly one
    tree.itemDoubleClicked.emit(item, 0)
    assert len(w.doc.graph) == 3


def _box_colours(item) -> int:  # type: ignore[no-untyped-def]
    """Distinct colours in the node's thumbnail box, painted for real."""
    from qtpy.QtGui import QImage, QPainter
    from qtpy.QtWidgets import QStyleOptionGraphicsItem

    from gateway_studio.ui.canvas.geometry import PAD, THUMB_H

    WIDTH = item.width
    image = QImage(int(WIDTH) + 20, int(item.height) + 20, QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.translate(10, 10)
    item.paint(painter, QStyleOptionGraphicsItem(), None)
    painter.end()
    top = int(item.thumb_top) + 10
    return len(
        {
            image.pixel(x, y)
            for x in range(int(PAD) + 16, int(WIDTH - PAD), 2)
            for y in range(top + 8, top + int(THUMB_H) - 12, 2)
        }
    )


def test_an_unwired_node_does_not_repeat_its_missing_inputs_in_the_box(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """'required input not connected: image, depth' in the box and 'connect image, depth'
    below it said the same thing twice."""
    w = window
    build_scene(w.doc)
    w.doc.add_node("modulate.isolate", node_id="iso", position=(600, 0))
    w.doc.set_param("depth", "path", "/nonexistent/missing_depth.png")
    wait_idle(qtbot, w)
    assert w.scene.node_item("iso").needs_input
    assert _box_colours(w.scene.node_item("iso")) <= 2  # an empty box
    assert _box_colours(w.scene.node_item("depth")) > 2  # a real error is written there
