"""A knob step repaints what changed: cached nodes do not flicker "computing", a node's
footer is redrawn only when its text changes, and a preview says so from its first event."""

from __future__ import annotations

from .conftest import build_scene, wait_idle


def test_a_knob_step_repaints_only_the_node_that_ran(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    wait_idle(qtbot, w)
    w.doc.set_param("band", "band_width", 0.25)  # photo and depth now show "cached"
    wait_idle(qtbot, w)
    shown: list[tuple[str, str]] = []
    w.controller.nodeStateChanged.connect(
        lambda nid: shown.append((nid, w.controller.state(nid).status))
    )
    updates: dict[str, int] = {}
    for nid, item in w.scene.nodes.items():
        item.update = lambda *a, n=nid: updates.__setitem__(n, updates.get(n, 0) + 1)  # type: ignore[method-assign]
    w.doc.set_param("band", "band_width", 0.3)
    wait_idle(qtbot, w)
    # the cache hits upstream finished before anyone could see them start
    assert ("photo", "computing") not in shown and ("depth", "computing") not in shown
    assert w.controller.state("depth").status == "cached"
    assert "depth" not in updates and "photo" not in updates  # "cached" again: no repaint
    assert updates.get("band", 0) >= 1  # its new time is shown


def test_a_slow_node_is_shown_computing(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Deferring "computing" must not hide it: a node still running after the delay
    shows it."""
    from gateway_studio.engine.outcome import NodeStarted
    from gateway_studio.ui.controller import STARTED_DELAY_MS

    w = window
    build_scene(w.doc)
    wait_idle(qtbot, w)
    c = w.controller
    item = w.scene.nodes["band"]
    c._on_event(c._latest, NodeStarted("band"))
    assert item._shown is not None and item._shown[1] == "computed"  # not yet shown
    qtbot.wait(STARTED_DELAY_MS * 3)
    assert item._shown is not None and item._shown[1] == "computing"


def test_a_preview_says_preview_from_its_first_event(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine.outcome import NodeFinished

    w = window
    build_scene(w.doc)
    wait_idle(qtbot, w)
    c = w.controller
    c._previews[c._latest] = True
    c._on_event(c._latest, NodeFinished("band", 0.01, False))
    assert c.state("band").preview
    assert w.scene.nodes["band"].status_text()[0].endswith("preview")


def test_pictures_reach_qt_bit_for_bit(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The one-pass conversions (OpenCV) give what the four-pass numpy ones gave: float
    [0, 1] rounded half to even, and each pixel's RGB in a 0xffRRGGBB QImage, at an odd
    width too (rows are padded to 4 bytes)."""
    import numpy as np

    from gateway_studio.ui import display
    from gateway_studio.ui.worker import qimage_from_rgb

    values = np.random.default_rng(0).random((9, 7, 3), dtype=np.float32)
    values[0, :4, 0] = [0.5 / 255, 1.5 / 255, 1.0, 0.0]  # ties and the ends
    expected = np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    rgb = display._to_u8(values)
    assert np.array_equal(rgb, expected)
    assert np.array_equal(display._to_u8(values[::2, ::3]), expected[::2, ::3])  # strided
    image = qimage_from_rgb(rgb)
    assert (image.width(), image.height()) == (7, 9)
    for y in range(9):
        for x in range(7):
            r, g, b = (int(c) for c in rgb[y, x])
            assert image.pixel(x, y) == 0xFF000000 | r << 16 | g << 8 | b
