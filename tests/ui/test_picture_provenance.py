"""A picture Gateway Studio exported reopens its patch in the app (File › Open, a drop on
the empty canvas, the command line); a hostile one is refused with the loader's message."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image as PILImage

from gateway_studio.cli import main
from gateway_studio.engine import provenance

from .conftest import IMAGES, PATCHES, wait_idle


def exported(tmp_path: Path) -> Path:
    for name in ("scene.png", "scene_depth.png"):
        shutil.copy(IMAGES / name, tmp_path / name)
    patch = tmp_path / "fog.json"
    text = (PATCHES / "fog.json").read_text().replace("../images/", "").replace("out/", "")
    patch.write_text(text)
    assert main(["render", str(patch), "--no-disk-cache"]) == 0
    return tmp_path / "fog.png"


def test_an_exported_picture_opens_its_patch(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    picture = exported(tmp_path)
    assert window.files.open_path(picture, ask=False)
    graph = window.doc.graph
    assert {n.id for n in graph.nodes()} == {"photo", "depth", "fog", "export"}
    assert graph.base_dir == tmp_path.resolve()
    assert graph.node("photo").params["path"] == "scene.png"
    assert graph.node("export").params["path"] == "fog-2.png"  # never over the picture
    assert window.doc.path is None and window.errors == []
    wait_idle(qtbot, window)
    assert window.controller.state("fog").status in ("computed", "cached")
    # a drop on the empty canvas does the same
    window.files.new_patch()
    window.view.imagesDropped.emit([str(picture)], window.view.mapToScene(0, 0))
    assert "fog" in window.doc.graph


def test_a_hostile_embedded_patch_is_refused(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    picture = tmp_path / "bad.png"
    PILImage.new("RGB", (4, 4)).save(picture)
    hostile = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [{"id": "x", "type": "os.system"}],
    }
    envelope = {"format": provenance.FORMAT, "version": 1, "patch": hostile}
    picture.write_bytes(provenance.embed(picture.read_bytes(), ".png", envelope))
    assert not window.files.open_path(picture, ask=False)
    assert window.errors and "unknown node type 'os.system'" in window.errors[0][1]
    assert "x" not in window.doc.graph
