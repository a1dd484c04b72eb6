"""``gateway_studio.Patch``: the Python API over the engine the CLI and app use."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio import Patch, Rendered
from gateway_studio.cli import main
from gateway_studio.engine import (
    Depth,
    Face,
    Faces,
    Image,
    NodeFinished,
    PatchError,
    patch_from_dict,
)
from tests.conftest import RESOURCES, ROOT


def fog(folder: Path, **kwargs: object) -> tuple[Patch, dict[str, object]]:
    for name in ("scene.png", "scene_depth.png"):
        shutil.copy(RESOURCES / "images" / name, folder / name)
    p = Patch(base_dir=folder, cache_dir=folder / "cache", **kwargs)  # type: ignore[arg-type]
    photo = p.add("source.image", id="photo", path="scene.png")
    depth = p.add("depth.from_file", id="depth", path="scene_depth.png", convention="inverse")
    f = p.add("modulate.atmosphere", id="fog", image=photo.image, depth=depth.depth, density=2.0)
    export = p.add("output.export", id="export", source=f.image, path="api.png")
    return p, {"photo": photo, "depth": depth, "fog": f, "export": export}


def computed(p: Patch) -> list[str]:
    return sorted(e.node_id for e in p.events if isinstance(e, NodeFinished) and not e.cached)


def test_the_readme_fog_patch_renders_as_the_cli_renders_its_saved_file(tmp_path: Path) -> None:
    p, n = fog(tmp_path)
    (written,) = p.render()  # the whole patch: the export writes api.png
    assert written.paths == (str(tmp_path / "api.png"),)
    img = p.render(n["fog"].image)  # type: ignore[attr-defined]
    assert isinstance(img, Rendered) and isinstance(img.slot, Image)
    assert img.numpy().shape == (640, 960, 3) and img.numpy().dtype == np.float32
    saved = p.save(tmp_path / "patches" / "fog.json")  # paths rewritten relative to it
    data = json.loads(saved.read_text())
    assert data["nodes"][0]["params"]["path"] == "../scene.png"
    out = tmp_path / "cli.png"
    assert main(["render", str(saved), "--output", str(out), "--no-disk-cache"]) == 0
    assert out.read_bytes() == (tmp_path / "api.png").read_bytes()
    # and the reopened patch renders the same picture
    again = Patch.open(saved, disk_cache=False)
    assert np.array_equal(again.render(again["fog"].image).numpy(), img.numpy())


def test_a_knob_recomputes_exactly_its_node_and_descendants(tmp_path: Path) -> None:
    p, n = fog(tmp_path, disk_cache=False)
    p.render(n["export"])  # type: ignore[arg-type]
    assert computed(p) == ["depth", "export", "fog", "photo"]
    before = p.render(n["fog"].image).numpy()  # type: ignore[attr-defined]
    assert computed(p) == []
    n["fog"].density = 3.0  # type: ignore[attr-defined]
    p.render(n["export"])  # type: ignore[arg-type]
    assert computed(p) == ["export", "fog"]
    after = p.render(n["fog"].image).numpy()  # type: ignore[attr-defined]
    assert computed(p) == [] and not np.array_equal(before, after)
    assert n["fog"].density == 3.0  # type: ignore[attr-defined]


def loader_error(node: dict[str, object]) -> str:
    """The patch loader's message for ``node`` (after its location)."""
    with pytest.raises(PatchError) as exc:
        patch_from_dict({"format": "gateway-studio.patch", "version": 1, "nodes": [node]})
    return str(exc.value).split(": ", 1)[1]


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"density": 99.0}, "density"),
        ({"density": "thick"}, "density"),
        ({"colour": "red"}, "colour"),
        ({"thickness": 1.0}, "thickness"),
    ],
)
def test_params_are_refused_with_the_loaders_messages(
    tmp_path: Path, params: dict[str, object], where: str
) -> None:
    p = Patch(base_dir=tmp_path, disk_cache=False)
    expected = loader_error({"id": "fog", "type": "modulate.atmosphere", "params": params})
    with pytest.raises(PatchError) as added:
        p.add("modulate.atmosphere", id="fog", **params)
    assert str(added.value) == f"fog.params.{where}: {expected}"
    assert "fog" not in p  # nothing half-added
    fog_node = p.add("modulate.atmosphere", id="fog")
    with pytest.raises(PatchError) as set_later:
        setattr(fog_node, where, params[where])
    assert str(set_later.value) == str(added.value)


def test_inputs_connect_by_handle_and_are_checked(tmp_path: Path) -> None:
    p, n = fog(tmp_path, disk_cache=False)
    with pytest.raises(PatchError, match="incompatible slot types"):
        p.add("modulate.atmosphere", image=n["depth"].depth)  # type: ignore[attr-defined]
    with pytest.raises(PatchError, match="has no input 'picture'"):
        p.add("modulate.atmosphere", picture=n["photo"].image)  # type: ignore[attr-defined]
    with pytest.raises(PatchError, match="takes another node's output"):
        p.add("modulate.atmosphere", image="photo.image")
    with pytest.raises(PatchError, match="duplicate node id 'fog'"):
        p.add("modulate.atmosphere", id="fog")
    with pytest.raises(PatchError, match="unknown node type"):
        p.add("modulate.nothing")
    fog2 = p.add("modulate.atmosphere", image=n["photo"])  # a one-output node stands for it
    assert fog2.id == "atmosphere" and fog2.inputs["image"] == n["photo"].image  # type: ignore[attr-defined]
    assert fog2.image == fog2.image.__class__("atmosphere", "image")  # its output
    fog2.image = None  # disconnected
    assert fog2.inputs["image"] is None and fog2.depth is None
    with pytest.raises(AttributeError, match="outputs: image"):
        _ = fog2.nothing
    with pytest.raises(PatchError, match="'depth' is an output"):
        n["depth"].depth = 1.0  # type: ignore[attr-defined]
    # a render with an unconnected required input names it
    with pytest.raises(Exception, match=r"atmosphere\.image"):
        p.render(fog2.image)  # type: ignore[attr-defined]


def test_a_failing_node_raises_naming_it(tmp_path: Path) -> None:
    p = Patch(base_dir=tmp_path, disk_cache=False)
    photo = p.add("source.image", id="photo", path="missing.png")
    from gateway_studio import NodeError

    with pytest.raises(NodeError, match=r"photo: .*missing\.png"):
        p.render(photo.image)  # type: ignore[attr-defined]


def png(rendered: Rendered) -> np.ndarray:
    data = rendered._repr_png_()
    assert data is not None
    return np.asarray(PILImage.open(io.BytesIO(data)))


def test_depth_shows_in_false_colour_and_faces_on_their_photo(tmp_path: Path) -> None:
    p, n = fog(tmp_path, disk_cache=False)
    depth = p.render(n["depth"].depth)  # type: ignore[attr-defined]
    assert isinstance(depth.slot, Depth)
    shown = png(depth)
    assert shown.shape == (640, 960, 3)
    assert np.abs(shown[..., 0].astype(int) - shown[..., 2]).max() > 100  # colour, not grey
    assert depth.pil().size == (960, 640)
    photo = Image(np.zeros((40, 60, 3), np.float32))
    faces = Faces((Face(box=(10.0, 5.0, 20.0, 20.0), score=0.9),), (40, 60))
    drawn = png(Rendered(faces, "faces", photo))
    assert drawn.shape == (40, 60, 3)
    assert drawn.max() > 0 and (drawn[30:, 40:] == 0).all()  # the box, on the black photo
    with pytest.raises(TypeError, match="no array"):
        Rendered(faces).numpy()


def test_a_picture_reopens_its_patch_and_import_stays_cheap(tmp_path: Path) -> None:
    p, _ = fog(tmp_path, disk_cache=False)
    p.render()
    again = Patch.open(tmp_path / "api.png", disk_cache=False)
    assert again["fog"].density == 2.0
    assert again["export"].path == "api.png"
    code = (
        "import sys, gateway_studio; print(sorted(m for m in "
        "('numpy', 'gateway_studio.engine', 'gateway_studio.api') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_example_script_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "patch_api.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "density 3.0: mean" in done.stdout and "computed ['fog']" in done.stdout
    assert (tmp_path / "fog.json").is_file() and (tmp_path / "fog.png").is_file()


def test_a_terminal_sees_each_nodes_progress(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway_studio import cli_render
    from gateway_studio.engine import NodeProgress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    listen = cli_render._stderr_listener(False)
    listen(NodeProgress("gen", 0.5, "step 10/20"))
    listen(NodeFinished("gen", 1.0, False))
    err = capsys.readouterr().err
    assert err.startswith("\rgen: step 10/20") and err.endswith("\r\x1b[K")
