"""Opening what an artist has (a photo) and honest dialogs: recovery never blocks what was
asked for, and prompts use the patch's own name."""

from __future__ import annotations

import json
import os
import shutil
import time

from qtpy.QtCore import QMimeData, QPointF, QUrl

from .conftest import IMAGES, PATCHES, wait_idle


def test_opening_a_png_creates_a_source_image_patch(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "holiday.png"
    shutil.copy(IMAGES / "coffee.png", photo)
    assert window.files.open_path(photo, ask=False)
    graph = window.doc.graph
    assert graph.node("photo").type_id == "source.image"
    assert graph.node("photo").params["path"] == str(photo.resolve())
    assert window.doc.path is None  # a new, untitled patch…
    assert window.files.display_name() == "holiday.png"  # …named after the photo
    assert window.files.save_as_start().name == "holiday.json"
    if "depth" not in graph:  # no weights here: the viewer says how to get depth
        assert "models pull" in window.viewer.note.text()
        assert not window.viewer.note.isHidden()
    wait_idle(qtbot, window)
    assert window.controller.state("photo").status in ("computed", "cached")
    assert "holiday.png" in window.windowTitle()


def test_a_photo_patch_estimates_depth_when_weights_exist(qtbot) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import default_registry
    from gateway_studio.ui.photo import photo_patch

    made = photo_patch(default_registry(), IMAGES / "coffee.png", weights=True)
    assert made.view == "depth" and made.note == ""
    assert made.graph.node("depth").type_id == "depth.estimate"
    assert made.graph.incoming("depth") == {"image": ("photo", "image")}
    none = photo_patch(default_registry(), IMAGES / "coffee.png", weights=False)
    assert "models pull" in none.note and none.view == "photo"


def test_a_photo_dropped_on_an_empty_canvas_starts_a_patch(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "drop.jpg"
    from PIL import Image as PILImage

    PILImage.open(IMAGES / "coffee.png").convert("RGB").save(photo)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    window.view.imagesDropped.emit([str(photo)], QPointF(0, 0))
    assert window.doc.graph.node("photo").type_id == "source.image"
    assert window.files.display_name() == "drop.jpg"
    # on a patch, a dropped photo is added to it (a second photo for a blend)
    window.add_images([str(IMAGES / "astronaut.png")], QPointF(0, 400))
    assert len([n for n in window.doc.graph.nodes() if n.type_id == "source.image"]) == 2


def test_a_photo_named_like_a_patch_is_still_a_photo(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    odd = tmp_path / "photo.json"
    shutil.copy(IMAGES / "coffee.png", odd)
    assert window.files.open_path(odd, ask=False)  # no 'utf-8 codec' error
    assert window.doc.graph.node("photo").type_id == "source.image"
    assert window.errors == []


def _crashed_autosave(config, patch: dict, name: str | None, path: str | None = None) -> None:  # type: ignore[no-untyped-def]
    folder = config / "recovery"
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "saved": time.time() - 60,
        "path": path,
        "patch": patch,
        "base_dir": str(PATCHES),
        "name": name,
    }
    (folder / "autosave-999999.json").write_text(json.dumps(data))


def test_recovery_does_not_block_an_explicit_open_and_names_the_right_file(
    qtbot, window, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """It used to ask first, over an empty canvas, calling an example 'an untitled patch',
    and the requested patch loaded only once it was answered."""
    example = json.loads((PATCHES / "motorcycle_fog.json").read_text(encoding="utf-8"))
    _crashed_autosave(tmp_path / "config", example, "motorcycle_fog (example)")
    asked: list[object] = []
    window.ask_save_changes = lambda: asked.append("save?") or "discard"  # type: ignore[method-assign]
    # what app.start() does: the requested patch first, then the offer
    assert window.files.open_path(PATCHES / "motorcycle_isolate.json", ask=False)
    offered = window.files.offer_recovery()
    assert offered is not None
    assert window.doc.graph.node("dof").type_id == "modulate.isolate"  # already open
    bar = window.files.bar
    assert not bar.isHidden() and "motorcycle_fog (example)" in bar.text.text()
    assert "untitled" not in bar.text.text()
    assert asked == []  # no modal question anywhere
    # the user works on; Recover later swaps in the recovered work
    assert window.files.recover()
    assert "fog" in window.doc.graph and window.doc.dirty
    assert window.files.display_name() == "motorcycle_fog (example)"
    assert bar.isHidden()
    assert not list((tmp_path / "config" / "recovery").glob("autosave-999999.json"))
    window.doc._recovered = False


def test_discarding_recovery_removes_the_autosave(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    example = json.loads((PATCHES / "motorcycle_fog.json").read_text(encoding="utf-8"))
    _crashed_autosave(tmp_path / "config", example, None, path=str(tmp_path / "mine.json"))
    offered = window.files.offer_recovery()
    assert offered is not None and "mine.json" in window.files.bar.text.text()
    window.files.bar.discard_button.click()
    assert window.files.bar.isHidden() and window.files.offer_recovery() is None
    assert os.getpid() != 999999


def test_prompts_use_the_patch_name(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    assert window.files.open_path(PATCHES / "motorcycle.json", ask=False)
    assert window.files.display_name() == "motorcycle (example)"
    assert window.windowTitle().startswith("motorcycle (example)")
    shown: list[str] = []
    from qtpy.QtWidgets import QMessageBox

    def fake_exec(box):  # type: ignore[no-untyped-def]
        shown.append(box.text())
        return QMessageBox.StandardButton.Cancel

    original = QMessageBox.exec
    QMessageBox.exec = fake_exec  # type: ignore[method-assign]
    try:
        from gateway_studio.ui.main_window import MainWindow

        assert MainWindow.ask_save_changes(window) == "cancel"
    finally:
        QMessageBox.exec = original  # type: ignore[method-assign]
    assert shown == ["Save changes to motorcycle (example)?"]
