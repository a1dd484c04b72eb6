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


def test_file_export_carries_the_patch_and_reopens_it(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    picture = exported(tmp_path)
    assert window.files.open_path(picture, ask=False)
    done: list = []
    job = window.exporter.export("fog", None, tmp_path / "from_app.png")
    job.done.connect(lambda r, e: done.append((r, e)))
    job.wait(30)
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
    assert done[0][1] == ""
    envelope = provenance.read_envelope(tmp_path / "from_app.png")
    assert envelope is not None
    ids = {n["id"] for n in envelope["patch"]["nodes"]}
    assert {"photo", "depth", "fog"} <= ids and envelope["written_by"] in ids
    window.files.new_patch()
    assert window.files.open_path(tmp_path / "from_app.png", ask=False)
    assert window.doc.graph.node("fog").params["density"] == 1.0


def test_an_exported_exr_opens_its_patch(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.jobs import export_choice

    for name in ("scene.png", "scene_depth.png"):
        shutil.copy(IMAGES / name, tmp_path / name)
    patch = tmp_path / "fog.json"
    text = (PATCHES / "fog.json").read_text().replace("../images/", "").replace("out/", "")
    patch.write_text(text.replace("fog.png", "fog.exr"))
    assert main(["render", str(patch), "--no-disk-cache"]) == 0
    picture = tmp_path / "fog.exr"
    assert window.files.open_path(picture, ask=False)
    graph = window.doc.graph
    assert {n.id for n in graph.nodes()} == {"photo", "depth", "fog", "export"}
    assert graph.node("export").params["path"] == "fog-2.exr"  # never over the picture
    assert window.doc.path is None and window.errors == []
    # an EXR without a patch (a render pass) is no photo: said, nothing replaced
    plain = tmp_path / "pass.exr"
    picture.rename(plain)
    plain.write_bytes(
        plain.read_bytes().replace(b"gatewayStudio/provenance", b"gatewayStudio/notmypatch")
    )
    assert not window.files.open_path(plain, ask=False)
    assert "without a Gateway Studio patch" in window.errors[-1][1]
    assert "fog" in window.doc.graph
    # File › Export: the EXR filters give half (auto) or float (32); integers never reach .exr
    assert export_choice(str(tmp_path / "a"), "OpenEXR (*.exr)") == (tmp_path / "a.exr", "auto")
    assert export_choice(str(tmp_path / "b"), "OpenEXR 32-bit float (*.exr)")[1] == "32"
    assert export_choice(str(tmp_path / "c.exr"), "PNG 16-bit (*.png)")[1] == "auto"
    assert export_choice(str(tmp_path / "d.png"), "OpenEXR 32-bit float (*.exr)")[1] == "auto"
