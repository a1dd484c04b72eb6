"""A node's tooltip says why it last re-ran."""

from __future__ import annotations

from .conftest import build_scene, wait_idle


def test_the_tooltip_names_the_param_that_made_a_node_rerun(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    build_scene(window.doc)
    window.scene.select_nodes(["band"])
    wait_idle(qtbot, window)
    item = window.scene.node_item("band")
    assert "re-ran: first run" in item.toolTip()
    window.doc.set_param("band", "band_width", 0.3)
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: "band_width" in item.toolTip(), timeout=10000)
    assert "re-ran: param band.band_width 0.2 → 0.3" in item.toolTip()
