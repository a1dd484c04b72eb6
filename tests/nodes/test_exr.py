"""output.export to OpenEXR: linear half Images, Depth Z in metres (or inverse depth, said
in the header), Field Y, Normals xyz; the patch in the header, read back and re-rendered
byte-identically, validated exactly as a patch file."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway_studio.engine import (
    Context,
    Depth,
    Field,
    GatewayError,
    Image,
    Mask,
    Normals,
    PatchError,
    patch_from_dict,
)
from gateway_studio.engine import provenance as prov
from gateway_studio.engine.batch import is_image_file
from gateway_studio.engine.image_slot import srgb_decode, srgb_encode
from nodes._exr import DEPTH_CONVENTION, DISTANCE_METRES, INVERSE, NORMALS_FRAME
from nodes.depth_files import from_file
from nodes.output import export
from tests.engine.test_provenance import fog_patch, render

OpenEXR = pytest.importorskip("OpenEXR")


def read_exr(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    exr = OpenEXR.File(str(path), separate_channels=True)
    return exr.header(), {name: ch.pixels for name, ch in exr.channels().items()}


def write(slot: Any, folder: Path, name: str, **params: Any) -> tuple[dict[str, Any], dict]:
    export(slot, path=name, ctx=Context(base_dir=folder), **params)
    return read_exr(folder / name)


# -- values ----------------------------------------------------------------------------
def test_an_srgb_image_is_written_linear_half(tmp_path: Path) -> None:
    samples = np.zeros((6, 8, 3), np.uint8)
    samples[..., 0] = 128  # sRGB 128/255 is 0.2159 in linear light
    samples[..., 1] = np.arange(8, dtype=np.uint8) * 36
    samples[..., 2] = 255
    header, ch = write(Image(samples, bit_depth=8), tmp_path, "i.exr")
    assert sorted(ch) == ["B", "G", "R"]
    assert all(c.dtype == np.float16 for c in ch.values())
    np.testing.assert_allclose(ch["R"], 0.2158605, rtol=2**-10)  # not 0.502 (sRGB)
    expected = srgb_decode(samples / np.float32(255))
    for i, name in enumerate("RGB"):
        np.testing.assert_allclose(ch[name], expected[..., i], rtol=2**-10, atol=2**-24)
    # the decode is the exact inverse of the encode the PNG export uses
    ramp = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(srgb_encode(srgb_decode(ramp)), ramp, atol=2e-6)
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    assert DEPTH_CONVENTION not in header


def test_float_linear_image_with_alpha_is_premultiplied_and_32_bit_on_request(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    linear = rng.random((5, 7, 3), dtype=np.float32)
    alpha = rng.random((5, 7), dtype=np.float32)
    image = Image(linear, alpha, "linear", 32)
    _, half = write(image, tmp_path, "a.exr")
    assert sorted(half) == ["A", "B", "G", "R"]
    np.testing.assert_allclose(half["G"], linear[..., 1] * alpha, rtol=2**-10, atol=2**-24)
    np.testing.assert_allclose(half["A"], alpha, rtol=2**-10)
    _, full = write(image, tmp_path, "f.exr", bit_depth="32")
    assert full["R"].dtype == np.float32
    np.testing.assert_array_equal(full["R"], linear[..., 0] * alpha)
    _, sixteen = write(image, tmp_path, "h.exr", bit_depth="16")
    assert sixteen["R"].dtype == np.float16


def test_metric_depth_is_distance_in_metres_with_holes_at_infinity(tmp_path: Path) -> None:
    metres = np.tile(np.linspace(1.0, 10.0, 40, dtype=np.float32), (30, 1))
    metres[3:6, 10:14] = np.nan  # a sensor hole
    depth = Depth.from_metric(metres)
    assert depth.valid is not None and depth.metric_range is not None
    header, ch = write(depth, tmp_path, "d.exr")
    assert list(ch) == ["Z"] and ch["Z"].dtype == np.float32
    assert header[DEPTH_CONVENTION] == DISTANCE_METRES
    z = ch["Z"]
    assert np.isposinf(z[3:6, 10:14]).all()
    assert np.isfinite(z[depth.valid]).all() and np.isposinf(z).sum() == 12
    # float32 exact to the slot's own distance, and the metres it was made from
    np.testing.assert_array_equal(z[depth.valid], depth.to_distance().values[depth.valid])
    np.testing.assert_allclose(z[depth.valid], metres[depth.valid], rtol=1e-5)
    assert z[0, 0] == pytest.approx(1.0, rel=1e-6) and z[0, -1] == pytest.approx(10.0, rel=1e-6)
    # depth.from_file reads it back: metres, holes
    back = from_file(path=str(tmp_path / "d.exr"), ctx=Context())
    assert back.metric_range == pytest.approx(depth.metric_range, rel=1e-6)
    assert back.valid is not None and np.array_equal(back.valid, depth.valid)
    np.testing.assert_allclose(back.values, depth.values, atol=1e-5)


def test_relative_depth_is_its_inverse_values_with_holes_as_nan(tmp_path: Path) -> None:
    inverse = np.tile(np.linspace(2.0, 0.5, 20, dtype=np.float32), (10, 1))
    inverse[0, 0] = np.nan
    depth = Depth.from_inverse(inverse)
    assert depth.metric_range is None and depth.valid is not None
    header, ch = write(depth, tmp_path, "r.exr")
    assert header[DEPTH_CONVENTION] == INVERSE
    z = ch["Z"]
    assert np.isnan(z[0, 0]) and np.isnan(z).sum() == 1
    np.testing.assert_array_equal(z[depth.valid], depth.values[depth.valid])
    assert z[1, 0] == 1.0 and z[1, -1] == 0.0  # 1 = nearest
    # read back as inverse depth (not as metres, which would reverse it)
    back = from_file(path=str(tmp_path / "r.exr"), ctx=Context())
    assert back.metric_range is None
    assert back.valid is not None and np.array_equal(back.valid, depth.valid)
    np.testing.assert_array_equal(back.values, depth.values)


def test_field_mask_and_normals(tmp_path: Path) -> None:
    field = Field(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    header, ch = write(field, tmp_path, "f.exr")
    assert list(ch) == ["Y"] and ch["Y"].dtype == np.float32
    np.testing.assert_array_equal(ch["Y"], field.values)
    assert DEPTH_CONVENTION not in header
    _, ch = write(Mask.from_bool(np.eye(3, dtype=bool)), tmp_path, "m.exr")
    np.testing.assert_array_equal(ch["Y"], np.eye(3, dtype=np.float32))
    rng = np.random.default_rng(2)
    v = rng.normal(size=(4, 5, 3)).astype(np.float32)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    normals = Normals(v)
    header, ch = write(normals, tmp_path, "n.exr")
    assert sorted(ch) == ["B", "G", "R"] and ch["R"].dtype == np.float32
    for i, name in enumerate("RGB"):  # the vector itself, negative parts and all
        np.testing.assert_array_equal(ch[name], v[..., i])
    assert (ch["R"] < 0).any()
    assert header[NORMALS_FRAME] == normals.frame


def test_bit_depths_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    ctx = Context(base_dir=tmp_path)
    image = Image(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(GatewayError, match=r"half .* or float"):
        export(image, path="i.exr", bit_depth="8", ctx=ctx)
    depth = Depth.from_inverse(np.eye(3, dtype=np.float32))
    with pytest.raises(GatewayError, match="32-bit float"):
        export(depth, path="d.exr", bit_depth="16", ctx=ctx)
    with pytest.raises(GatewayError, match=r"bit_depth 32 .* is for \.exr"):
        export(image, path="i.png", bit_depth="32", ctx=ctx)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(GatewayError, match=r"use \.png.*\.exr"):
        export(depth, path="d.jpg", ctx=ctx)


# -- provenance ------------------------------------------------------------------------
def test_every_provenance_mode_and_the_pixels_do_not_depend_on_it(tmp_path: Path) -> None:
    patch = fog_patch(tmp_path, "fog.exr")
    assert render(patch) == 0
    assert is_image_file(tmp_path / "fog.exr")
    envelope = prov.read_envelope(tmp_path / "fog.exr")
    assert envelope is not None and envelope["format"] == prov.FORMAT
    assert envelope["mode"] == "full" and envelope["written_by"] == "export"
    nodes = {n["id"]: n for n in envelope["patch"]["nodes"]}
    assert nodes["photo"]["params"]["path"] == "scene.png"
    assert "path" not in nodes["export"]["params"]
    header, full = read_exr(tmp_path / "fog.exr")
    assert json.loads(header[prov.EXR_ATTRIBUTE]) == envelope
    minimal, bare = str(tmp_path / "minimal.exr"), str(tmp_path / "bare.exr")
    assert render(patch, "--set", "export.provenance=minimal", "--output", minimal) == 0
    assert render(patch, "--set", "export.provenance=none", "--output", bare) == 0
    small = prov.read_envelope(minimal)
    assert small is not None and small["mode"] == "minimal"
    assert "scene.png" not in json.dumps(small) and len(small["sources"]) == 2
    assert prov.read_envelope(bare) is None
    header, plain = read_exr(Path(bare))
    assert prov.EXR_ATTRIBUTE not in header
    assert sorted(plain) == ["B", "G", "R"]
    for name in plain:
        np.testing.assert_array_equal(plain[name], full[name])


def test_rendering_the_exr_gives_the_same_bytes_and_opens_as_a_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway_studio import Patch

    patch = fog_patch(tmp_path, "fog.exr")
    assert render(patch) == 0
    again = tmp_path / "again.exr"
    assert render(tmp_path / "fog.exr", "--output", str(again)) == 0
    assert again.read_bytes() == (tmp_path / "fog.exr").read_bytes()
    capsys.readouterr()
    assert render(tmp_path / "fog.exr") == 1  # never over its own input
    assert "never writes over its own input" in capsys.readouterr().err
    graph = prov.patch_from_image(tmp_path / "fog.exr")
    assert {n.id for n in graph.nodes()} == {"photo", "depth", "fog", "export"}
    assert graph.node("export").params["path"] == "fog.exr"
    assert graph.base_dir == tmp_path.resolve()
    assert "fog" in Patch.open(tmp_path / "fog.exr").graph
    # a missing source is named, as for a PNG
    elsewhere = tmp_path / "sent"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "fog.exr", elsewhere / "fog.exr")
    capsys.readouterr()
    assert render(elsewhere / "fog.exr", "--output", str(elsewhere / "x.exr")) == 2
    assert "photo.path" in capsys.readouterr().err


def exr_with_envelope(path: Path, text: str) -> Path:
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        prov.EXR_ATTRIBUTE: text,
    }
    OpenEXR.File(header, {"Y": np.zeros((4, 4), np.float32)}).write(str(path))
    return path


@pytest.mark.parametrize(
    "patch",
    [
        {
            "format": "gateway-studio.patch",
            "version": 1,
            "nodes": [{"id": "x", "type": "os.system"}],
        },
        {
            "format": "gateway-studio.patch",
            "version": 1,
            "nodes": [{"id": "p", "type": "source.image", "params": {"path": "a\x00b"}}],
        },
        ["not", "a", "patch"],
    ],
)
def test_a_hostile_patch_in_the_header_gets_the_patch_files_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: Any
) -> None:
    envelope = {"format": prov.FORMAT, "version": 1, "patch": patch, "written_by": "export"}
    picture = exr_with_envelope(tmp_path / "hostile.exr", json.dumps(envelope))
    with pytest.raises(PatchError) as as_file:
        patch_from_dict(patch)
    with pytest.raises(PatchError) as embedded:
        prov.patch_from_image(picture)
    assert str(embedded.value) == f"{picture} (embedded patch): {as_file.value}"
    assert render(picture, "--output", str(tmp_path / "x.exr")) == 2
    assert "bad patch" in capsys.readouterr().err
    assert not (tmp_path / "x.exr").exists()


def test_damaged_truncated_or_oversized_headers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_json = exr_with_envelope(tmp_path / "j.exr", "{not json")
    with pytest.raises(PatchError, match="not valid JSON"):
        prov.read_envelope(bad_json)
    other = exr_with_envelope(tmp_path / "o.exr", '{"format": "something else"}')
    with pytest.raises(PatchError, match="envelope"):
        prov.read_envelope(other)
    plain = tmp_path / "plain.exr"
    OpenEXR.File({"type": OpenEXR.scanlineimage}, {"Y": np.zeros((2, 2), np.float32)}).write(
        str(plain)
    )
    assert prov.read_envelope(plain) is None
    with pytest.raises(PatchError, match="carries no Gateway Studio patch"):
        prov.patch_from_image(plain)
    assert render(plain) == 2  # a render pass, not a patch: said in one line
    assert "without a Gateway Studio patch" in capsys.readouterr().err

    def attribute(size: int, value: bytes) -> bytes:
        head = b"v/1\x01" + struct.pack("<I", 2)
        return (
            head + prov.EXR_ATTRIBUTE.encode() + b"\x00string\x00" + struct.pack("<i", size) + value
        )

    huge = tmp_path / "huge.exr"  # claims 64 MB + 1: refused from the size field alone
    huge.write_bytes(attribute(prov.MAX_ENVELOPE_BYTES + 1, b"{}"))
    with pytest.raises(PatchError, match="larger than 64 MB"):
        prov.read_envelope(huge)
    short = tmp_path / "short.exr"
    short.write_bytes(attribute(1000, b'{"format"'))
    with pytest.raises(PatchError, match="damaged"):
        prov.read_envelope(short)
    junk = tmp_path / "junk.exr"  # a name with no end: not a header, not ours
    junk.write_bytes(b"v/1\x01" + b"\x02\x00\x00\x00" + b"x" * 600)
    assert prov.read_envelope(junk) is None
    with pytest.raises(GatewayError, match="header"):
        prov.embed(plain.read_bytes(), ".exr", {"format": prov.FORMAT})
