"""Provenance: every PNG / JPEG / TIFF export carries the patch that made it (EXR:
tests/nodes/test_exr.py); the picture reopens (and re-renders) that patch, validated
exactly as a patch file."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.cli import main
from gateway_studio.engine import (
    Evaluator,
    GatewayError,
    PatchError,
    SlotCache,
    load_patch,
    patch_from_dict,
)
from gateway_studio.engine import provenance as prov
from tests.conftest import RESOURCES


def fog_patch(folder: Path, out: str = "fog.png", **export: Any) -> Path:
    """The fog example with its images copied beside it (paths relative to it)."""
    for name in ("scene.png", "scene_depth.png"):
        shutil.copy(RESOURCES / "images" / name, folder / name)
    data = json.loads((RESOURCES / "patches" / "fog.json").read_text())
    params = {n["id"]: n["params"] for n in data["nodes"]}
    params["photo"]["path"] = "scene.png"
    params["depth"]["path"] = "scene_depth.png"
    params["export"].update({"path": out, **export})
    patch = folder / "fog.json"
    patch.write_text(json.dumps(data))
    return patch


def render(patch: Path, *extra: str) -> int:
    return main(["render", str(patch), "--no-disk-cache", *extra])


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_every_export_carries_its_patch_and_the_pixels_are_unchanged(
    tmp_path: Path, suffix: str
) -> None:
    patch = fog_patch(tmp_path, "fog" + suffix)
    assert render(patch) == 0
    bare = str(tmp_path / f"bare{suffix}")
    assert render(patch, "--set", "export.provenance=none", "--output", bare) == 0
    envelope = prov.read_envelope(tmp_path / f"fog{suffix}")
    assert envelope is not None and envelope["format"] == prov.FORMAT
    assert envelope["written_by"] == "export" and envelope["mode"] == "full"
    nodes = {n["id"]: n for n in envelope["patch"]["nodes"]}
    assert nodes["photo"]["params"]["path"] == "scene.png"  # relative to the picture
    assert "path" not in nodes["export"]["params"]  # the picture itself, set on open
    assert nodes["fog"]["params"]["density"] == 1.0
    sources = {s["node"]: s for s in envelope["sources"]}
    assert sources["photo"]["fingerprint"] == prov_fingerprint(tmp_path / "scene.png")
    assert prov.read_envelope(tmp_path / f"bare{suffix}") is None  # provenance=none
    with (
        PILImage.open(tmp_path / f"fog{suffix}") as a,
        PILImage.open(tmp_path / f"bare{suffix}") as b,
    ):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def prov_fingerprint(path: Path) -> str:
    from gateway_studio.engine import fingerprint_file

    return fingerprint_file(path)


def test_rendering_the_picture_gives_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = fog_patch(tmp_path)
    assert render(patch) == 0
    assert render(tmp_path / "fog.png", "--output", str(tmp_path / "again.png")) == 0
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "fog.png").read_bytes()
    # without --output the picture's export would write over the picture: refused
    capsys.readouterr()
    assert render(tmp_path / "fog.png") == 1
    assert "never writes over its own input" in capsys.readouterr().err


def test_a_missing_source_is_named_and_a_changed_one_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = fog_patch(tmp_path)
    assert render(patch) == 0
    elsewhere = tmp_path / "sent"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "fog.png", elsewhere / "fog.png")
    capsys.readouterr()
    assert render(elsewhere / "fog.png", "--output", str(elsewhere / "again.png")) == 2
    err = capsys.readouterr().err
    assert "photo.path" in err and "depth.path" in err and "scene.png" in err
    assert not (elsewhere / "again.png").exists()
    # the user gives the photo: it renders; the other one still missing is named
    shutil.copy(tmp_path / "scene_depth.png", elsewhere / "scene_depth.png")
    other = elsewhere / "other.png"
    PILImage.open(tmp_path / "scene.png").transpose(PILImage.Transpose.FLIP_TOP_BOTTOM).save(other)
    code = render(
        elsewhere / "fog.png", "--input", f"photo={other}", "--output", str(elsewhere / "b.png")
    )
    assert code == 0, capsys.readouterr().err
    # a source with other bytes renders, with a note
    shutil.copy(other, elsewhere / "scene.png")
    capsys.readouterr()
    assert render(elsewhere / "fog.png", "--output", str(elsewhere / "c.png")) == 0
    assert "not the file the picture was made from" in capsys.readouterr().err


def test_minimal_keeps_content_keys_but_no_source_paths(tmp_path: Path) -> None:
    patch = fog_patch(tmp_path, provenance="minimal")
    assert render(patch) == 0
    envelope = prov.read_envelope(tmp_path / "fog.png")
    assert envelope is not None
    text = json.dumps(envelope)
    assert "scene.png" not in text and "scene_depth.png" not in text
    assert [s["node"] for s in envelope["sources"]] == ["photo", "depth"]
    assert all(len(s["fingerprint"]) > 16 for s in envelope["sources"])
    graph = prov.patch_from_image(tmp_path / "fog.png")
    missing, _ = prov.missing_sources(envelope, graph)
    assert len(missing) == 2 and "minimal" in missing[0]


def test_an_unrelated_change_rewrites_the_export_with_the_new_patch(tmp_path: Path) -> None:
    patch = fog_patch(tmp_path)
    graph = load_patch(patch)
    graph.add_node("modulate.atmosphere", {"density": 2.0}, node_id="other")
    evaluator = Evaluator(SlotCache(None))
    assert evaluator.evaluate(graph, strict=False).results["export"].status == "computed"
    assert evaluator.evaluate(graph).results["export"].status == "cached"
    graph.set_param("other", "density", 3.0)  # another branch: the embedded patch changed
    assert evaluator.evaluate(graph).results["export"].status == "computed"
    envelope = prov.read_envelope(tmp_path / "fog.png")
    assert envelope is not None
    other = next(n for n in envelope["patch"]["nodes"] if n["id"] == "other")
    assert other["params"]["density"] == 3.0


def hostile_picture(tmp_path: Path, patch: Any) -> Path:
    """A real PNG carrying ``patch`` as its embedded patch."""
    picture = tmp_path / "hostile.png"
    PILImage.new("RGB", (4, 4)).save(picture)
    envelope = {"format": prov.FORMAT, "version": 1, "patch": patch, "written_by": "export"}
    picture.write_bytes(prov.embed(picture.read_bytes(), ".png", envelope))
    return picture


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
            "nodes": [{"id": "f", "type": "modulate.atmosphere", "params": {"density": 1e400}}],
        },
        {
            "format": "gateway-studio.patch",
            "version": 1,
            "nodes": [{"id": "p", "type": "source.image", "params": {"path": "a\x00b"}}],
        },
        {"format": "gateway-studio.patch", "version": 99, "nodes": []},
        ["not", "a", "patch"],
    ],
)
def test_a_hostile_embedded_patch_gets_the_patch_files_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: Any
) -> None:
    picture = hostile_picture(tmp_path, patch)
    with pytest.raises(PatchError) as as_file:
        patch_from_dict(patch)
    with pytest.raises(PatchError) as embedded:
        prov.patch_from_image(picture)
    assert str(embedded.value) == f"{picture} (embedded patch): {as_file.value}"
    assert render(picture, "--output", str(tmp_path / "x.png")) == 2
    assert "bad patch" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_damaged_or_bombed_envelopes_are_refused(tmp_path: Path) -> None:
    picture = tmp_path / "a.png"
    PILImage.new("RGB", (4, 4)).save(picture)
    plain = picture.read_bytes()
    assert prov.read_envelope(picture) is None
    with pytest.raises(PatchError, match="carries no Gateway Studio patch"):
        prov.patch_from_image(picture)
    # a zip bomb: 65 MB of spaces in a few kB
    bomb = zlib.compress(b" " * (prov.MAX_ENVELOPE_BYTES + 10), 9)
    body = prov.KEYWORD + b"\x00\x01\x00\x00\x00" + bomb
    end = plain.rfind(b"IEND") - 4
    picture.write_bytes(plain[:end] + prov._png_chunk(b"iTXt", body) + plain[end:])
    with pytest.raises(PatchError, match="larger than 64 MB"):
        prov.read_envelope(picture)
    picture.write_bytes(plain[:end] + prov._png_chunk(b"iTXt", body[:40] + b"xx") + plain[end:])
    with pytest.raises(PatchError, match="damaged"):
        prov.read_envelope(picture)
    text = zlib.compress(b'{"format": "something else"}')
    chunk = prov._png_chunk(b"iTXt", body[: len(prov.KEYWORD) + 5] + text)
    picture.write_bytes(plain[:end] + chunk + plain[end:])
    with pytest.raises(PatchError, match="envelope"):
        prov.read_envelope(picture)


def test_a_big_patch_in_a_jpeg_is_split_into_segments(tmp_path: Path) -> None:
    picture = tmp_path / "a.jpg"
    PILImage.new("RGB", (8, 8)).save(picture)
    rng = np.random.default_rng(0)  # incompressible: far beyond one 64 kB segment
    noise = rng.integers(0, 2**62, 20000).tolist()
    envelope = {"format": prov.FORMAT, "version": 1, "patch": {}, "noise": noise}
    picture.write_bytes(prov.embed(picture.read_bytes(), ".jpg", envelope))
    assert prov.read_envelope(picture) == envelope
    with PILImage.open(picture) as im:
        assert im.size == (8, 8)


def test_the_envelope_names_models_with_their_licence(tmp_path: Path, store: Path) -> None:
    from gateway_studio.engine import Link, PatchGraph, default_registry

    graph = PatchGraph(default_registry(), base_dir=tmp_path)
    graph.add_node("source.image", {"path": "gone.png"}, node_id="photo")
    graph.add_node("depth.estimate", {"model": "depth-anything-v2-large"}, node_id="depth")
    graph.add_node("output.export", {"path": "d.png"}, node_id="export")
    graph.connect(Link("photo", "image", "depth", "image"))
    graph.connect(Link("depth", "depth", "export", "source"))

    def fingerprint(path: Path) -> str:
        from gateway_studio.engine import GatewayError

        raise GatewayError(f"{path}: no such file")

    envelope = prov.build(graph, "export", tmp_path / "d.png", "full", fingerprint)
    (model,) = envelope["models"]
    assert model["model"] == "depth-anything-v2-large" and model["licence"] == "CC-BY-NC-4.0"
    assert model["identity"].startswith("missing:")
    assert envelope["sources"][0]["fingerprint"].startswith("unreadable: ")


def test_what_is_not_a_carrier_is_left_alone_or_refused(tmp_path: Path) -> None:
    envelope = {"format": prov.FORMAT, "version": 1, "patch": {}}
    assert prov.embed(b"PLY", ".ply", envelope) == b"PLY"
    for suffix in (".png", ".jpg", ".tif"):
        with pytest.raises(GatewayError, match="not a"):
            prov.embed(b"garbage bytes", suffix, envelope)
    (tmp_path / "tiny.png").write_bytes(b"\x89PNG")
    assert prov.read_envelope(tmp_path / "tiny.png") is None
    (tmp_path / "notes.txt").write_text("not a picture at all")
    assert prov.read_envelope(tmp_path / "notes.txt") is None
    with pytest.raises(PatchError, match="no such file"):
        prov.read_envelope(tmp_path / "missing.png")
    with pytest.raises(PatchError, match="cannot read"):
        prov.read_envelope(tmp_path)
    # a big-endian TIFF carries it too
    picture = tmp_path / "be.tif"
    header = b"MM\x00*" + (8).to_bytes(4, "big")
    ifd = (1).to_bytes(2, "big") + (256).to_bytes(2, "big") + (3).to_bytes(2, "big")
    ifd += (1).to_bytes(4, "big") + (4).to_bytes(2, "big") + b"\x00\x00" + b"\x00" * 4
    picture.write_bytes(prov.embed(header + ifd + b"\x00", ".tif", envelope))
    assert prov.read_envelope(picture) == envelope
    # a malformed chunk or damaged stream of ours is refused
    plain = tmp_path / "p.png"
    PILImage.new("RGB", (2, 2)).save(plain)
    data = plain.read_bytes()
    end = data.rfind(b"IEND") - 4
    for body in (prov.KEYWORD + b"\x00\x01\x00", prov.KEYWORD + b"\x00\x01\x00\x00\x00junk"):
        plain.write_bytes(data[:end] + prov._png_chunk(b"iTXt", body) + data[end:])
        with pytest.raises(PatchError, match=r"malformed|damaged"):
            prov.read_envelope(plain)
    jpeg = tmp_path / "j.jpg"
    PILImage.new("RGB", (2, 2)).save(jpeg)
    raw = jpeg.read_bytes()
    bad = b"http://ns.adobe.com/xap/1.0/\x00<gs:Provenance>!!notbase64</gs:Provenance>"
    segment = b"\xff\xe1" + (len(bad) + 2).to_bytes(2, "big") + bad
    jpeg.write_bytes(raw[:2] + segment + raw[2:])
    assert prov.read_envelope(jpeg) is None  # not our element: not ours
    bad = bad.replace(b"!!notbase64", b"QUJD")  # base64 of "ABC": not zlib
    segment = b"\xff\xe1" + (len(bad) + 2).to_bytes(2, "big") + bad
    jpeg.write_bytes(raw[:2] + segment + raw[2:])
    with pytest.raises(PatchError, match="damaged"):
        prov.read_envelope(jpeg)
