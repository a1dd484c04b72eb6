"""Depth with holes and metres, as an artist sees it: hatched holes, 'no depth' in the
readout, the calibration and the hole fill named in the inspector and the tooltip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from .conftest import wait_idle


def test_holes_and_metres_are_shown(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.display import HOLE_COLOURS, readout, to_rgb

    millimetres = np.tile(np.linspace(1000, 4000, 64), (48, 1)).astype(np.uint16)
    millimetres[10:20, 10:20] = 0  # a sensor hole
    PILImage.fromarray(millimetres).save(tmp_path / "kinect.png")
    w = window
    w.doc.add_node(
        "depth.from_file",
        {"path": str(tmp_path / "kinect.png"), "encoding": "kinect-mm"},
        node_id="depth",
        position=(0, 0),
    )
    w.scene.select_nodes(["depth"])
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.inspector.notes.isVisibleTo(w.inspector), timeout=10000)
    text = w.inspector.notes.text()
    assert "no depth" in text and "calibrated: 1 m … 4 m" in text
    assert "calibrated" in w.scene.node_item("depth").toolTip()
    # the viewer's picture and readout of that same slot
    from gateway_studio.engine import Context
    from nodes.depth_files import from_file

    slot = from_file(path=str(tmp_path / "kinect.png"), encoding="kinect-mm", ctx=Context())
    rgb = to_rgb(slot)
    assert rgb is not None
    hole_pixels = rgb[10:20, 10:20].reshape(-1, 3)
    assert all(any((p == c).all() for c in HOLE_COLOURS) for p in hole_pixels)
    assert readout(slot, 15, 15).startswith("no depth")
    assert readout(slot, 40, 30).endswith(" m")
