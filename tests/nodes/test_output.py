"""output.export: each slot type to the file kinds it supports, atomically, with fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.engine import (
    Context,
    Depth,
    Face,
    Faces,
    Field,
    GatewayError,
    Image,
    fingerprint_file,
)
from nodes.output import export


def ramp_depth() -> Depth:
    return Depth.from_metric(np.tile(np.linspace(1.0, 10.0, 40), (30, 1)))  # left is near


def test_depth_png_is_16bit_grayscale_lighter_is_closer(tmp_path: Path) -> None:
    files = export(ramp_depth(), path="d.png", ctx=Context(base_dir=tmp_path))
    written = Path(files.paths[0])
    assert written == tmp_path / "d.png"
    assert files.fingerprints[0] == fingerprint_file(written)
    im = PILImage.open(written)
    assert im.mode in ("I;16", "I") and im.size == (40, 30)
    arr = np.asarray(im)
    assert arr[0, 0] == 65535 and arr[0, -1] == 1  # 0 is kept for "no depth"


def test_field_npy_and_8bit_png(tmp_path: Path) -> None:
    field = Field(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    export(field, path="f.npy", ctx=Context(base_dir=tmp_path))
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy", allow_pickle=False), field.values)
    export(field, path="f.png", ctx=Context(base_dir=tmp_path))
    assert PILImage.open(tmp_path / "f.png").mode == "L"


def test_image_keeps_16_bit_and_alpha_and_jpeg_quality(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    img = Image(pixels, np.full((20, 30), 0.5, np.float32), bit_depth=16)
    export(img, path="i.png", ctx=Context(base_dir=tmp_path))
    from gateway_studio.engine.imageio import read_image

    back = read_image(tmp_path / "i.png")
    assert back.bit_depth == 16 and back.alpha is not None
    export(img, path="lo.jpg", quality=20, ctx=Context(base_dir=tmp_path))
    export(img, path="hi.jpg", quality=100, ctx=Context(base_dir=tmp_path))
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size


def test_faces_json_format(tmp_path: Path) -> None:
    faces = Faces((Face((1, 2, 3, 4), 0.9, ((1.0, 2.0),), 0.25),), (30, 40))
    export(faces, path="faces.json", ctx=Context(base_dir=tmp_path))
    data = json.loads((tmp_path / "faces.json").read_text())
    assert data == {
        "faces": [
            {"box": [1.0, 2.0, 3.0, 4.0], "score": 0.9, "landmarks": [[1.0, 2.0]], "depth": 0.25}
        ]
    }


@pytest.mark.parametrize(("name", "message"), [("x.gif", "use .png"), ("", "no output path")])
def test_refusals_name_the_problem(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(GatewayError, match=message):
        export(ramp_depth(), path=name, ctx=Context(base_dir=tmp_path))
    with pytest.raises(GatewayError, match=r"cannot be written as '\.png'"):
        export(Faces((), (2, 2)), path="f.png", ctx=Context(base_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_linear_image_is_written_srgb_encoded(tmp_path: Path) -> None:
    # Image files hold sRGB values: linear 0.5 is sRGB 0.735 (188/255), not 128; alpha
    # is coverage, never encoded.
    linear = Image(np.full((4, 5, 3), 0.5, np.float32), np.full((4, 5), 0.5, np.float32), "linear")
    files = export(linear, path="lin.png", ctx=Context(base_dir=tmp_path))
    arr = np.asarray(PILImage.open(files.paths[0]))
    assert arr.shape == (4, 5, 4)
    assert np.all(arr[..., :3] == 188) and np.all(arr[..., 3] == 128)
    srgb = Image(np.full((4, 5, 3), 0.5, np.float32))
    files = export(srgb, path="srgb.png", ctx=Context(base_dir=tmp_path))
    assert np.all(np.asarray(PILImage.open(files.paths[0])) == 128)
