"""The depth eyedropper: a click in the viewer sets the selected node's depth knob to the
depth under it, as one undo step; a hole in the depth is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from .conftest import IMAGES, wait_idle


def isolate_scene(w) -> None:  # type: ignore[no-untyped-def]
    w.doc.add_node("source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo")
    w.doc.add_node("depth.from_file", {"path": str(IMAGES / "scene_depth.png")}, node_id="depth")
    w.doc.add_node("modulate.isolate", {"focus": 0.2}, node_id="iso", position=(300, 0))
    w.doc.link("photo", "image", "iso", "image")
    w.doc.link("depth", "depth", "iso", "depth")


def test_pick_sets_focus_to_the_depth_under_the_click_and_undoes(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    isolate_scene(w)
    w.scene.select_nodes(["iso"])
    wait_idle(qtbot, w)
    depth = w.controller.outputs["depth"]["depth"]
    h, wd = depth.size
    fx, fy = 0.25, 0.55  # on the near red sphere
    expected = float(depth.values[int(fy * h), int(fx * wd)])
    assert expected > 0.5
    w.viewer.pick_button.setChecked(True)  # the eyedropper: the next click picks
    view = w.viewer.image_view
    assert view.picking
    view.picked.emit(fx, fy)
    focus = w.doc.graph.node("iso").params["focus"]
    assert abs(focus - expected) <= 0.005  # rounded to the knob's step
    assert not w.viewer.pick_button.isChecked()  # one pick per arming
    w.doc.undo_stack.undo()
    assert w.doc.graph.node("iso").params["focus"] == 0.2


def test_a_real_ctrl_click_picks(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QPoint, Qt

    w = window
    isolate_scene(w)
    w.scene.select_nodes(["iso"])
    wait_idle(qtbot, w)
    view = w.viewer.image_view
    view.fit()
    centre = view.mapFromScene(view.item.boundingRect().center())
    qtbot.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ControlModifier,
        QPoint(centre.x(), centre.y()),
    )
    depth = w.controller.outputs["depth"]["depth"]
    h, wd = depth.size
    expected = float(depth.values[h // 2, wd // 2])
    assert abs(w.doc.graph.node("iso").params["focus"] - expected) <= 0.01


def test_a_hole_is_refused(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui import eyedropper

    millimetres = np.full((40, 60), 2000, np.uint16)
    millimetres[:, :30] = 0  # the left half has no depth
    PILImage.fromarray(millimetres).save(tmp_path / "k.png")
    PILImage.new("RGB", (60, 40)).save(tmp_path / "p.png")
    w = window
    w.doc.add_node("source.image", {"path": str(tmp_path / "p.png")}, node_id="photo")
    w.doc.add_node(
        "depth.from_file",
        {"path": str(tmp_path / "k.png"), "encoding": "kinect-mm"},
        node_id="depth",
    )
    w.doc.add_node("modulate.atmosphere", {}, node_id="fog")
    w.doc.link("photo", "image", "fog", "image")
    w.doc.link("depth", "depth", "fog", "depth")
    w.scene.select_nodes(["fog"])
    wait_idle(qtbot, w)
    said = eyedropper.pick(w.doc, "fog", w.controller.outputs, 0.1, 0.5)
    assert said.startswith("no depth under the cursor")
    assert w.doc.graph.node("fog").params["start"] == 1.0  # unchanged
    said = eyedropper.pick(w.doc, "fog", w.controller.outputs, 0.9, 0.5)
    assert said.startswith("picked fog.start")


def test_histogram_shows_the_focus_band_and_follows_the_knob(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QPoint, Qt

    w = window
    isolate_scene(w)
    w.scene.select_nodes(["iso"])
    wait_idle(qtbot, w)
    hist = w.viewer.histogram
    assert hist.isVisible() and hist.counts is not None and hist.counts.max() == 1.0
    (marker,) = hist.markers
    assert (marker.param, marker.value) == ("focus", 0.2)
    counts = hist.counts
    w.doc.set_param("iso", "focus_range", 0.1)  # the band follows the knob
    assert hist.markers[0].spread == 0.1
    wait_idle(qtbot, w)  # the same depth is not counted again on a knob step
    assert hist.counts is counts
    w.doc.set_param("iso", "focus", 0.6)
    assert hist.markers[0].value == 0.6
    # drag the marker from 0.6 to about 0.3: one undo step back to 0.6
    hist.resize(400, 60)
    y = 30
    qtbot.mousePress(hist, Qt.MouseButton.LeftButton, pos=QPoint(round(hist.x_of(0.6)), y))
    qtbot.mouseMove(hist, QPoint(round(hist.x_of(0.45)), y))
    qtbot.mouseMove(hist, QPoint(round(hist.x_of(0.3)), y))
    qtbot.mouseRelease(hist, Qt.MouseButton.LeftButton, pos=QPoint(round(hist.x_of(0.3)), y))
    assert abs(w.doc.graph.node("iso").params["focus"] - 0.3) < 0.01
    w.doc.undo_stack.undo()
    assert w.doc.graph.node("iso").params["focus"] == 0.6
    w.scene.select_nodes(["photo"])  # no depth knob: no histogram
    qtbot.waitUntil(lambda: not hist.isVisible())
