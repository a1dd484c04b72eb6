"""Geometry nodes: normals (frame +X right, +Y up, +Z toward the camera), point clouds
(PLY round trip through output.export), relighting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway_studio.engine import (
    CAMERA_FRAME,
    Context,
    Depth,
    Evaluator,
    GatewayError,
    Image,
    Normals,
    PointCloud,
    SlotCache,
    load_patch,
)
from nodes import geometry, output

ROOT = Path(__file__).resolve().parents[2]
PATCHES = ROOT / "resources" / "patches"


def call(spec: Any, *inputs: Any, **params: Any) -> Any:
    return spec.func(*inputs, **{**spec.default_params(), **params})


def ramp(h: int, w: int, axis: str, lo: float = 0.0, hi: float = 1.0) -> Depth:
    """Inverse depth rising from ``lo`` to ``hi`` toward ``axis`` (right/left/top/bottom)."""
    line = np.linspace(lo, hi, w if axis in ("right", "left") else h, dtype=np.float32)
    if axis in ("left", "top"):
        line = line[::-1].copy()
    if axis in ("right", "left"):
        return Depth(np.tile(line, (h, 1)))
    return Depth(np.tile(line[:, None], (1, w)))


# -- normals ------------------------------------------------------------------------------
def test_flat_depth_faces_the_camera() -> None:
    n = call(geometry.normals, Depth(np.full((40, 60), 0.37, np.float32)), strength=10.0)
    assert isinstance(n, Normals) and n.vectors.shape == (40, 60, 3)
    np.testing.assert_allclose(n.vectors, np.broadcast_to([0, 0, 1], (40, 60, 3)), atol=1e-6)


@pytest.mark.parametrize(
    ("nearer", "expected"),
    [
        # right side nearer → the surface turns to face left (−X)
        ("right", (-1, 0)),
        ("left", (1, 0)),
        # top nearer (like a ceiling) → faces down (−Y); bottom nearer (a floor) → faces up
        ("top", (0, -1)),
        ("bottom", (0, 1)),
    ],
)
def test_tilted_plane_normals_point_the_right_way(nearer: str, expected: tuple[int, int]) -> None:
    depth = ramp(50, 50, nearer)
    v = call(geometry.normals, depth, strength=1.0, smooth=0.0).vectors
    inner = v.reshape(-1, 3)  # every pixel, borders included
    # At strength 1 the slope is the depth change across the long side: a ramp rising by
    # 1/49 per pixel over 50 pixels has slope 50/49 (a tilt just over 45°).
    slope = 50 / 49
    want = np.array([expected[0] * slope, expected[1] * slope, 1.0]) / np.hypot(slope, 1.0)
    np.testing.assert_allclose(inner, np.broadcast_to(want, inner.shape), atol=1e-4)
    assert np.all(v[..., 2] > 0)  # every normal faces the camera side


def test_strength_steepens_and_is_resolution_independent() -> None:
    small = call(geometry.normals, ramp(50, 80, "right"), strength=2.0, smooth=0.0).vectors
    big = call(geometry.normals, ramp(100, 160, "right"), strength=2.0, smooth=0.0).vectors
    assert small[25, 40, 0] == pytest.approx(big[50, 80, 0], abs=2e-3)
    gentle = call(geometry.normals, ramp(50, 80, "right"), strength=0.5, smooth=0.0).vectors
    assert small[25, 40, 0] < gentle[25, 40, 0] < 0
    flat = call(geometry.normals, ramp(50, 80, "right"), strength=0.0).vectors
    np.testing.assert_allclose(flat[..., 2], 1.0)


def test_smoothing_calms_noisy_depth() -> None:
    rng = np.random.default_rng(3)
    noisy = Depth(np.clip(0.5 + rng.normal(0, 0.01, (120, 160)), 0, 1).astype(np.float32))
    raw = call(geometry.normals, noisy, strength=4.0, smooth=0.0).vectors
    calm = call(geometry.normals, noisy, strength=4.0, smooth=30.0).vectors
    assert calm[..., 2].mean() > raw[..., 2].mean() + 0.05
    # the mean tilt away from the camera (1 - n_z) drops by far more than half
    assert (1 - calm[..., 2]).mean() < 0.2 * (1 - raw[..., 2]).mean()


# -- point cloud --------------------------------------------------------------------------
def photo(h: int, w: int) -> Image:
    rng = np.random.default_rng(5)
    return Image(rng.random((h, w, 3), dtype=np.float32))


def test_point_cloud_back_projects_through_the_pinhole() -> None:
    depth = ramp(30, 40, "bottom", 0.0, 1.0)  # a floor: nearest at the bottom
    img = photo(30, 40)
    cloud = call(geometry.point_cloud, depth, img, fov=90.0, near=1.0, far=10.0, stride=1)
    assert isinstance(cloud, PointCloud) and cloud.frame == CAMERA_FRAME
    assert cloud.points.shape == (30 * 40, 3)
    z = cloud.points[:, 2].reshape(30, 40)
    # the camera looks down −Z: every point in front of it has negative z
    assert z.max() == pytest.approx(-1.0) and z.min() == pytest.approx(-10.0, rel=1e-5)
    # 1/|z| is linear in inverse depth (the near/far pinning)
    d = depth.values
    np.testing.assert_allclose(-1.0 / z, 0.1 + 0.9 * d, rtol=1e-5)
    # fov 90°: x / |z| spans ±1 across the width (at pixel centres)
    ratio = cloud.points[:, 0] / -cloud.points[:, 2]
    assert ratio.min() == pytest.approx(-1 + 1 / 40) and ratio.max() == pytest.approx(1 - 1 / 40)
    # image rows go down, +Y goes up: the top row has the largest y / |z|
    y_ratio = (cloud.points[:, 1] / -cloud.points[:, 2]).reshape(30, 40)
    assert np.all(np.diff(y_ratio[:, 0]) < 0)
    np.testing.assert_array_equal(cloud.colors, img.pixels.reshape(-1, 3))


def test_point_cloud_stride_min_depth_fov_and_range_check() -> None:
    depth = ramp(30, 40, "right")
    img = photo(30, 40)
    strided = call(geometry.point_cloud, depth, img, stride=4)
    assert len(strided.points) == 8 * 10
    np.testing.assert_array_equal(strided.colors, img.pixels[::4, ::4].reshape(-1, 3))
    cut = call(geometry.point_cloud, depth, img, stride=1, min_depth=0.5)
    assert len(cut.points) == int((depth.values >= 0.5).sum())
    assert -cut.points[:, 2].max() >= 1.0 and -cut.points[:, 2].min() < 2.0
    narrow = call(geometry.point_cloud, depth, img, fov=30.0)
    wide = call(geometry.point_cloud, depth, img, fov=100.0)
    assert np.ptp(wide.points[:, 0]) > 3 * np.ptp(narrow.points[:, 0])
    grey = call(geometry.point_cloud, depth, None, stride=1)
    np.testing.assert_allclose(grey.colors[:, 0], depth.values.reshape(-1))
    with pytest.raises(GatewayError, match="far"):
        call(geometry.point_cloud, depth, img, near=5.0, far=5.0)
    with pytest.raises(GatewayError, match="differ"):
        call(geometry.point_cloud, depth, photo(30, 41))


def test_point_cloud_cuts_depth_jumps_and_transparent_pixels() -> None:
    # a near plane (left) and a far plane (right) joined by a 4-pixel smooth "curtain"
    line = np.concatenate([np.ones(18), np.linspace(1, 0, 6)[1:-1], np.zeros(18)])
    depth = Depth(np.tile(line.astype(np.float32), (10, 1)))
    img = photo(10, 40)
    whole = call(geometry.point_cloud, depth, img, stride=1, cut_edges=0.0)
    cut = call(geometry.point_cloud, depth, img, stride=1, cut_edges=0.2)
    assert len(whole.points) == 400
    dist = -cut.points[:, 2]
    # the curtain (and its neighbours) is gone; both planes' interiors stay
    assert not np.any((dist > 1.5) & (dist < 9.0))
    assert (dist < 1.01).sum() >= 10 * 16 and (dist > 9.99).sum() >= 10 * 16
    alpha = np.zeros((10, 40), np.float32)
    alpha[:, :20] = 1.0
    half = call(geometry.point_cloud, depth, Image(img.pixels, alpha), stride=1)
    assert len(half.points) == 200 and np.all(half.points[:, 0] < 0)


def test_point_cloud_colours_of_a_linear_image_are_srgb() -> None:
    # PLY colours are display colours: linear 0.5 is sRGB 0.735, as the viewer shows it
    depth = Depth(np.full((4, 6), 0.5, np.float32))
    linear = Image(np.full((4, 6, 3), 0.5, np.float32), colorspace="linear")
    cloud = call(geometry.point_cloud, depth, linear, stride=1)
    np.testing.assert_allclose(cloud.colors, 0.7354, atol=1e-3)
    srgb = call(geometry.point_cloud, depth, Image(linear.pixels), stride=1)
    np.testing.assert_allclose(srgb.colors, 0.5)


def read_ply(path: Path) -> np.ndarray:
    """Parse a binary little-endian PLY of float xyz + uchar rgb with numpy."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[0] == "ply" and header[1] == "format binary_little_endian 1.0"
    count = int(next(line for line in header if line.startswith("element vertex")).split()[2])
    kinds = {"float": "<f4", "uchar": "u1"}
    fields = [
        (line.split()[2], kinds[line.split()[1]]) for line in header if line.startswith("property")
    ]
    assert [f[0] for f in fields] == ["x", "y", "z", "red", "green", "blue"]
    records = np.frombuffer(data, dtype=np.dtype(fields), offset=end)
    assert len(records) == count
    return records


def test_ply_round_trip_through_export(tmp_path: Path) -> None:
    depth = ramp(24, 32, "right", 0.1, 1.0)
    img = photo(24, 32)
    cloud = call(geometry.point_cloud, depth, img, stride=2)
    ctx = Context(base_dir=tmp_path)
    files = output.export.func(cloud, path="cloud.ply", bit_depth="auto", quality=95, ctx=ctx)
    records = read_ply(Path(files.paths[0]))
    assert len(records) == 12 * 16
    xyz = np.stack([records["x"], records["y"], records["z"]], axis=1)
    assert np.isfinite(xyz).all()
    np.testing.assert_array_equal(xyz, cloud.points)
    # nearer (larger inverse depth) → z closer to 0; farther → more negative
    d = depth.values[::2, ::2].reshape(-1)
    order = np.argsort(d, kind="stable")
    assert np.all(np.diff(records["z"][order]) >= 0)
    assert np.all(records["z"] < 0)
    rgb = np.stack([records["red"], records["green"], records["blue"]], axis=1)
    np.testing.assert_array_equal(rgb, np.round(img.pixels[::2, ::2].reshape(-1, 3) * 255))


def test_point_cloud_of_the_sample_scene_is_metric(tmp_path: Path) -> None:
    """scene.png was ray-traced with a 60° camera 1.2 m above a floor, depth 2.4–14 m:
    with those near/far the floor must come back at y = −1.2."""
    graph = load_patch(PATCHES / "point_cloud.json")
    target = tmp_path / "scene.ply"
    graph.set_param("export", "path", str(target))
    graph.write_consent = graph.write_consent.allow_file(target)  # as --set would
    result = Evaluator(SlotCache(None)).evaluate(graph, strict=True)
    assert result.ok, result.report()
    records = read_ply(target)
    assert len(records) == 320 * 480
    floor = records["y"][records["y"] < -1.0]
    assert len(floor) > 10_000
    assert np.percentile(floor, 5) == pytest.approx(-1.2, abs=0.01)
    assert records["z"].max() == pytest.approx(-2.4, abs=0.01)
    assert records["z"].min() == pytest.approx(-14.0, abs=0.01)


# -- relight ------------------------------------------------------------------------------
def split_normals(h: int = 40, w: int = 60) -> Normals:
    """Left half faces left (−X), right half faces right (+X), both 45° toward the camera."""
    v = np.zeros((h, w, 3), np.float32)
    v[:, : w // 2] = [-np.sqrt(0.5), 0, np.sqrt(0.5)]
    v[:, w // 2 :] = [np.sqrt(0.5), 0, np.sqrt(0.5)]
    return Normals(v)


def grey(h: int = 40, w: int = 60, alpha: bool = False) -> Image:
    a = np.linspace(0, 1, w, dtype=np.float32)[None].repeat(h, 0) if alpha else None
    return Image(np.full((h, w, 3), 0.5, np.float32), a)


def check_image(out: Image, like: Image) -> None:
    assert out.pixels.shape == like.pixels.shape and out.pixels.dtype == np.float32
    assert np.isfinite(out.pixels).all() and out.pixels.min() >= 0 and out.pixels.max() <= 1
    if like.alpha is None:
        assert out.alpha is None
    else:
        np.testing.assert_array_equal(out.alpha, like.alpha)


def test_relight_brightens_surfaces_facing_the_light() -> None:
    img = grey(alpha=True)
    out = call(geometry.relight, img, split_normals(), azimuth=0.0, elevation=20.0, color="#ffffff")
    check_image(out, img)
    left, right = out.pixels[:, :30].mean(), out.pixels[:, 30:].mean()
    assert right > left + 0.15
    # from the left the picture flips
    flipped = call(geometry.relight, img, split_normals(), azimuth=180.0, elevation=20.0)
    assert flipped.pixels[:, :30].mean() > flipped.pixels[:, 30:].mean() + 0.15
    # the side facing away keeps only the ambient light: 0.5 · ambient^(1/2.2)
    dark = call(geometry.relight, img, split_normals(), azimuth=0.0, elevation=0.0, ambient=0.3)
    assert dark.pixels[:, :30].mean() == pytest.approx(0.5 * 0.3 ** (1 / 2.2), abs=1e-4)


def test_relight_colour_intensity_and_mix() -> None:
    img = grey()
    normals = split_normals()
    warm = call(geometry.relight, img, normals, azimuth=0.0, color="#ff4000", ambient=0.0)
    lit = warm.pixels[:, 40:]
    assert lit[..., 0].mean() > lit[..., 2].mean() + 0.2
    none = call(geometry.relight, img, normals, mix=0.0)
    np.testing.assert_allclose(none.pixels, img.pixels)
    neutral = call(geometry.relight, img, normals, intensity=0.0, ambient=1.0)
    np.testing.assert_allclose(neutral.pixels, img.pixels, atol=1e-6)
    strong = call(geometry.relight, img, normals, azimuth=0.0, intensity=2.0)
    weak = call(geometry.relight, img, normals, azimuth=0.0, intensity=0.5)
    assert strong.pixels[:, 40:].mean() > weak.pixels[:, 40:].mean() + 0.05
    with pytest.raises(GatewayError, match="differ"):
        call(geometry.relight, grey(40, 61), normals)


# -- the example patches ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["normals", "relight"])
def test_example_patches_render(tmp_path: Path, name: str) -> None:
    from gateway_studio.engine.imageio import read_image

    graph = load_patch(PATCHES / f"{name}.json")
    target = tmp_path / f"{name}.png"
    graph.set_param("export", "path", str(target))
    graph.write_consent = graph.write_consent.allow_file(target)  # as --set would
    result = Evaluator(SlotCache(None)).evaluate(graph, strict=True)
    assert result.ok, result.report()
    out = read_image(target)
    assert out.size == (640, 960)
    px = out.pixels
    if name == "normals":
        # wall faces the camera (0,0,1) → (0.5, 0.5, 1); floor faces up → green
        np.testing.assert_allclose(px[100, 700], [0.5, 0.5, 1.0], atol=0.01)
        assert px[600, 700, 1] > 0.95 and abs(px[600, 700, 0] - 0.5) < 0.02
    else:
        src = read_image(ROOT / "resources" / "images" / "scene.png").pixels
        assert np.abs(px - src).mean() > 0.02  # the light really changed the picture


# -- every knob, anywhere in its range ----------------------------------------------------
def test_any_params_give_valid_outputs() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    rng = np.random.default_rng(2)
    depth = Depth(rng.random((23, 31)).astype(np.float32))
    img = Image(rng.random((23, 31, 3), dtype=np.float32), rng.random((23, 31), dtype=np.float32))

    @settings(max_examples=60, deadline=None, database=None)
    @given(
        strength=st.floats(0, 50),
        smooth=st.floats(0, 50),
        azimuth=st.floats(-180, 180),
        elevation=st.floats(0, 90),
        intensity=st.floats(0, 4),
        ambient=st.floats(0, 2),
        color=st.sampled_from(["#000000", "#ffffff", "#ff8000", "#123456"]),
        mix=st.floats(0, 1),
        fov=st.floats(5, 170),
        near=st.floats(0.01, 100),
        stride=st.integers(1, 16),
        min_depth=st.floats(0, 1),
        cut_edges=st.floats(0, 1),
    )
    def check(**p: Any) -> None:
        n = call(geometry.normals, depth, strength=p["strength"], smooth=p["smooth"])
        assert np.isfinite(n.vectors).all() and np.all(n.vectors[..., 2] > 0)
        keys = ("azimuth", "elevation", "intensity", "ambient", "color", "mix")
        out = call(geometry.relight, img, n, **{k: p[k] for k in keys})
        check_image(out, img)
        cloud = call(
            geometry.point_cloud,
            depth,
            img,
            fov=p["fov"],
            near=p["near"],
            far=p["near"] * 10,
            stride=p["stride"],
            min_depth=p["min_depth"],
            cut_edges=p["cut_edges"],
        )
        assert np.isfinite(cloud.points).all() and np.all(cloud.points[:, 2] < 0)

    check()
