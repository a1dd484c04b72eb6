"""Band-by-band nodes (issue 11): the numbers of the full-frame code, in bounded memory.

The nodes of the modulation, geometry and field families compute a band of rows at a time
(``nodes._strips``), resample band by band (``nodes._resample``) and read 8/16-bit photos a
band at a time. Here: the helpers equal OpenCV's full-frame calls; every node equals the
full-frame implementation it replaced (``fullframe_reference``) with bands of a few rows,
so every band edge, halo and resampling seam is exercised; element-wise nodes give the same
numbers at any band split; a node's peak memory is a small multiple of its output frame;
and the drawing looks the same at 2 MP and 8 MP.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from gateway_studio.engine import Depth, Field, Image, Normals
from nodes import _pixels, _resample, _strips, fields, geometry, modulation
from nodes._filters import gaussian_blur, guided_filter, guided_rows
from tests.nodes import fullframe_reference as ref

H, W = 157, 283  # odd both ways: every resize has fractional weights


def scene(h: int = H, w: int = W, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A photo-like image (gradients, texture, stripes, highlights, a red disc) and its
    depth (a near disc in front of a receding floor)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    v, u = ys / h, xs / w
    depth = np.clip(0.05 + 0.6 * np.clip((v - 0.45) / 0.55, 0, 1), 0, 1)
    disc = (u - 0.3) ** 2 * (w / h) ** 2 + (v - 0.55) ** 2 < 0.3**2
    depth = np.where(disc, 0.9 - 0.1 * v, depth).astype(np.float32)
    base = np.stack([0.3 + 0.4 * u, 0.4 + 0.2 * v, 0.7 - 0.4 * v], axis=-1)
    pixels = base + 0.08 * (rng.random((h, w, 1), dtype=np.float32) - 0.5)
    pixels += 0.1 * (np.sin(u * 60.0) > 0)[..., None]
    pixels[disc] = [0.8, 0.25, 0.2]
    for cy, cx in ((0.2, 0.7), (0.3, 0.85)):
        pixels[(u - cx) ** 2 + (v - cy) ** 2 < 0.03**2] = 0.98
    return np.clip(pixels, 0, 1).astype(np.float32), depth


def image_of(pixels: np.ndarray, kind: str) -> Image:
    if kind == "8-bit":
        return Image((pixels * 255 + 0.5).astype(np.uint8))
    if kind == "16-bit":
        return Image((pixels * 65535 + 0.5).astype(np.uint16), bit_depth=16)
    if kind == "linear":
        return Image(np.ascontiguousarray(pixels**2), colorspace="linear")
    if kind == "alpha":
        a = np.clip(np.linspace(-0.5, 1.5, pixels.shape[1], dtype=np.float32), 0, 1)
        return Image(pixels, np.ascontiguousarray(np.broadcast_to(a, pixels.shape[:2])))
    return Image(pixels)


@pytest.fixture
def thin_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bands of a few rows (997 px): band edges everywhere, starting at odd rows."""
    monkeypatch.setattr(_strips, "BAND_PIXELS", 997)


# -- the helpers ---------------------------------------------------------------------------
def test_image_rows_are_the_pixels_for_every_sample_value() -> None:
    for dtype, peak in ((np.uint8, 255), (np.uint16, 65535)):
        samples = np.arange(peak + 1, dtype=dtype)
        data = np.resize(samples, (-(-(peak + 1) // 96), 32, 3))  # every value appears
        image = Image(data)
        assert np.array_equal(_strips.image_rows(image, 0, data.shape[0]), image.pixels)
        assert np.array_equal(_strips.image_rows(image, 1, 2), image.pixels[1:2])
    floats = Image(scene()[0])
    assert np.array_equal(_strips.image_rows(floats, 5, 9), floats.pixels[5:9])


def test_light_of_an_8bit_photo_is_its_pixels_squared_for_every_value() -> None:
    data = np.resize(np.arange(256, dtype=np.uint8), (8, 32, 3))
    linear = Image(data, colorspace="linear")
    assert np.array_equal(_pixels.to_light(linear, 2, 7), _strips.image_rows(linear, 2, 7))
    light = _pixels.to_light(Image(data), 0, 8)
    exact = np.square(data.astype(np.float64) / 255.0)  # (v / 255)², then rounded once
    assert light.dtype == np.float32 and light.shape == data.shape
    np.testing.assert_array_max_ulp(light, exact.astype(np.float32), maxulp=1)
    assert np.array_equal(_pixels.to_light(Image(data), 2, 7), light[2:7])


def test_bands_cover_the_frame_once() -> None:
    for h, w, align, min_rows in (
        (1, 1, 1, 1),
        (157, 283, 2, 1),
        (1000, 7, 1, 300),
        (5, 10**6, 4, 1),
    ):
        spans = list(_strips.bands(h, w, align=align, min_rows=min_rows))
        assert spans[0][0] == 0 and spans[-1][1] == h
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
        assert all(
            top % align == 0 and bottom - top >= min(min_rows, h) for top, bottom in spans[:-1]
        )


RESIZES = [
    # (source h, w) -> (target h, w), area (downscale) or bilinear
    ((540, 960), (1080, 1920), False),
    ((68, 120), (1080, 1920), False),  # 16x, whole
    ((541, 961), (1081, 1921), False),  # fractional
    ((150, 2300), (301, 4500), False),  # fractional, rows wide enough to sum with OpenCV
    ((301, 4500), (150, 2300), True),
    ((3, 3), (161, 17), False),
    ((1080, 1920), (540, 960), True),
    ((1081, 1921), (541, 961), True),
    ((1080, 1921), (540, 961), True),  # whole in y only
    ((1080, 1920), (475, 17), True),
    ((7, 9), (2, 3), True),
]


@pytest.mark.parametrize(("src", "dst", "area"), RESIZES)
@pytest.mark.parametrize("channels", [0, 3, 4])
def test_resize_rows_and_area_down_equal_cv2_resize(
    src: tuple[int, int], dst: tuple[int, int], area: bool, channels: int
) -> None:
    rng = np.random.default_rng(channels)
    shape = src if channels == 0 else (*src, channels)
    a = rng.random(shape, dtype=np.float32)
    flag = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    expected = cv2.resize(a, (dst[1], dst[0]), interpolation=flag)
    cuts = sorted({0, dst[0], *rng.integers(0, dst[0], 6).tolist()})
    got = np.concatenate(
        [_resample.resize_rows(a, dst, t, b, area=area) for t, b in itertools.pairwise(cuts)]
    )
    assert np.abs(got - expected).max() <= 3e-7
    if area:
        (down,) = _resample.area_down(lambda t, b: [a[t:b]], src, dst)
        assert np.abs(down - expected).max() <= 3e-7


@pytest.mark.parametrize("sigma", [0.03, 0.8, 3.0, 4.0, 4.5, 6.0, 9.5, 20.0, 80.0])
def test_banded_gaussian_equals_gaussian_blur(thin_bands: None, sigma: float) -> None:
    pixels = scene()[0]
    blurred = _resample.BandedGaussian(lambda t, b: pixels[t:b], (H, W), sigma)
    got = np.concatenate([blurred.rows(t, b) for t, b in _strips.bands(H, W)])
    assert np.abs(got - gaussian_blur(pixels, sigma)).max() <= 3e-7


@pytest.mark.parametrize("radius", [2.0, 7.9, 12.0, 60.0])
def test_guided_rows_equal_guided_filter(thin_bands: None, radius: float) -> None:
    pixels, depth = scene()
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    filtered = guided_rows(lambda t, b: grey[t:b], lambda t, b: depth[t:b], (H, W), radius, 0.01)
    got = np.concatenate([filtered(t, b) for t, b in _strips.bands(H, W, min_rows=50)])
    assert np.abs(got - guided_filter(grey, depth, radius, 0.01)).max() <= 3e-6


# -- every node against the full-frame code it replaced -------------------------------------
KINDS = ["float", "8-bit", "16-bit", "linear", "alpha"]

#: (label, new node call, reference call) on (image, depth map); params are the same.
Call = Callable[[Image, np.ndarray, dict[str, Any]], Any]
IMAGE_NODES: list[tuple[str, Call, Call, dict[str, Any]]] = []
for params in (
    {},
    {"focus": 0.2, "max_radius": 80.0},
    {"focus": 0.9, "max_radius": 150.0, "mix": 0.7},
    {"max_radius": 3.0, "aperture": 20.0},
):
    IMAGE_NODES.append(
        (
            "isolate",
            lambda im, d, p: modulation.isolate.func(im, Field(d), **p).pixels,
            lambda im, d, p: ref.isolate(im, Field(d), **p),
            params,
        )
    )
for params in ({}, {"threshold": 0.3, "radius": 300.0}, {"radius": 5.0, "mix": 0.4}):
    IMAGE_NODES.append(
        (
            "halo",
            lambda im, d, p: modulation.halo.func(im, Field(d), **p).pixels,
            lambda im, d, p: ref.halo(im, Field(d), **p),
            params,
        )
    )
for params in (
    {},
    {"line_weight": 6.0, "detail": 1.0, "hatching": 1.0},
    {"line_weight": 0.3, "hatching": 0.0, "mix": 0.6},
):
    IMAGE_NODES.append(
        (
            "drawing",
            lambda im, d, p: modulation.drawing.func(im, Field(d), **p).pixels,
            lambda im, d, p: ref.drawing(im, Field(d), **p),
            params,
        )
    )
for cell in (24.0, 7.0, 1000.0):
    IMAGE_NODES.append(
        (
            "depth_band pixelate",
            lambda im, d, p: modulation.depth_band.func(im, Field(d), style="pixelate", **p).pixels,
            lambda im, d, p: np.clip(
                ref._lerp(
                    im.pixels, ref._pixelate(im.pixels, ref.scaled_radius(p["cell"], d.shape)), d
                ),
                0,
                1,
            ),
            {"cell": cell},
        )
    )


@pytest.mark.parametrize(("label", "new", "old", "params"), IMAGE_NODES)
@pytest.mark.parametrize("kind", KINDS)
def test_image_nodes_equal_the_full_frame_code(
    thin_bands: None, label: str, new: Call, old: Call, params: dict[str, Any], kind: str
) -> None:
    pixels, depth = scene()
    image = image_of(pixels, kind)
    got, expected = new(image, depth, params), old(image, depth, params)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6, (label, params, kind)


@pytest.mark.parametrize("params", [{}, {"focus": 0.2, "max_radius": 80.0}])
@pytest.mark.parametrize("kind", ["8-bit", "alpha"])
def test_isolate_at_even_sizes_equals_the_full_frame_code(
    thin_bands: None, params: dict[str, Any], kind: str
) -> None:
    """Even sizes take the gather's exact 2x2 average (``nodes._lens_kernel``), odd ones
    (every case above) its general weights: both agree with the full-frame code."""
    pixels, depth = scene(156, 282)
    image = image_of(pixels, kind)
    got = modulation.isolate.func(image, Field(depth), **params).pixels
    assert np.abs(got - ref.isolate(image, Field(depth), **params)).max() <= 1e-6


@pytest.mark.parametrize(
    "params",
    [{}, {"smooth": 0.0}, {"smooth": 0.5, "strength": 20.0}, {"smooth": 40.0}],
)
def test_normals_equal_the_full_frame_code(thin_bands: None, params: dict[str, Any]) -> None:
    depth = Depth(scene()[1])
    got = geometry.normals.func(depth, **params).vectors
    # A wide smoothing runs on a downscaled copy whose upsampling rounds differently
    # (~1e-7); the slope gain (strength x the long side / 8) magnifies that.
    tolerance = 1e-5 if params.get("smooth", 2.0) * W / 1080 < 12 else 1e-3
    assert np.abs(got - ref.normals(depth, **params)).max() <= tolerance


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"stride": 1, "cut_edges": 0.05},
        {"stride": 3, "near": 2.0, "far": 30.0, "min_depth": 0.2, "cut_edges": 0.2},
        {"stride": 16, "cut_edges": 0.01},
    ],
)
def test_point_clouds_equal_the_full_frame_code(thin_bands: None, params: dict[str, Any]) -> None:
    pixels, depth = scene()
    holes = np.arange(H * W).reshape(H, W) % 17 == 0
    metric = Depth.from_metric(np.where(holes, np.nan, 1 + 9 * (1 - depth)).astype(np.float32))
    for d in (Depth(depth), metric):
        for image in (None, image_of(pixels, "8-bit"), image_of(pixels, "linear")):
            cloud = geometry.point_cloud.func(d, image, **params)
            points, colours, unit = ref.point_cloud(d, image, **params)
            assert cloud.unit == unit
            assert np.array_equal(cloud.points, points) and np.array_equal(cloud.colors, colours)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"radius": 200.0},
        {"edge_preserving": True},
        {"edge_preserving": True, "radius": 2.0},
        {"edge_preserving": True, "radius": 60.0},
    ],
)
def test_field_blur_equals_the_full_frame_code(thin_bands: None, params: dict[str, Any]) -> None:
    pixels, depth = scene()
    for guide in (None, image_of(pixels, "8-bit")):
        got = fields.blur.func(Field(depth), guide, **params).values
        assert np.abs(got - ref.blur(Field(depth), guide, **params)).max() <= 1e-6


@pytest.mark.parametrize(
    "params",
    [{}, {"feather": 0.0}, {"feather": 200.0, "grow": -50.0}, {"grow": 80.0, "feather": 3.0}],
)
def test_from_mask_equals_the_full_frame_code(thin_bands: None, params: dict[str, Any]) -> None:
    mask = Field((scene()[1] > 0.5).astype(np.float32))
    assert np.array_equal(
        fields.from_mask.func(mask, **params).values, ref.from_mask(mask, **params)
    )


# -- element-wise nodes: the band split changes nothing --------------------------------------
def _elementwise_outputs() -> list[np.ndarray]:
    pixels, depth = scene()
    outs: list[np.ndarray] = []
    other = Image(np.ascontiguousarray(pixels[::-1]))
    normals = Normals(geometry.normals.func(Depth(depth)).vectors)
    for kind in KINDS:
        image = image_of(pixels, kind)
        outs.append(modulation.atmosphere.func(image, Depth(depth), start=0.7, mix=0.8).pixels)
        for style in ("posterize", "tint", "desaturate", "image"):
            outs.append(modulation.depth_band.func(image, Field(depth), other, style=style).pixels)
        for mode in ("normal", "multiply", "screen", "overlay", "add"):
            outs.append(modulation.blend.func(image, other, Field(depth), mode=mode).pixels)
        outs.append(geometry.relight.func(image, normals, mix=0.7).pixels)
    f = Field(depth)
    outs.append(fields.remap.func(f, band_width=0.2, gamma=2.0, gain=1.5, invert=True).values)
    for shape in ("decay", "band", "invert"):
        outs.append(fields.from_depth.func(f, shape=shape).values)
    for op in ("multiply", "max", "min", "screen", "lerp"):
        outs.append(fields.combine.func(f, Field(1 - depth), f, op=op).values)
    outs.append(fields.from_point.func(f, x=0.2, y=0.9, radius=0.5).values)
    return outs


def test_elementwise_nodes_do_not_depend_on_the_band_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_strips, "BAND_PIXELS", 997)
    thin = _elementwise_outputs()
    monkeypatch.setattr(_strips, "BAND_PIXELS", 1 << 30)  # the whole frame in one band
    whole = _elementwise_outputs()
    for a, b in zip(thin, whole, strict=True):
        assert np.abs(a - b).max() <= 1e-6


# -- the drawing's look does not depend on the resolution -----------------------------------
def _drawing_photo(h: int, w: int) -> np.ndarray:
    """Smooth colour fields with hard-edged shapes, a thin dark line and a row of stripes:
    the kinds of edge ink lines follow."""
    rng = np.random.default_rng(3)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    v, u = ys / h, xs / w
    base = np.stack([0.35 + 0.4 * u, 0.45 + 0.25 * v, 0.75 - 0.45 * v], axis=-1)
    blobs = cv2.resize(
        rng.random((9, 16, 3), dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    p = 0.6 * base + 0.3 * blobs
    for cy, cx, r, colour in (
        (0.5, 0.3, 0.22, (0.8, 0.3, 0.2)),
        (0.35, 0.7, 0.12, (0.1, 0.15, 0.2)),
        (0.7, 0.75, 0.08, (0.95, 0.9, 0.6)),
    ):
        p[(u - cx) ** 2 * (w / h) ** 2 + (v - cy) ** 2 < r**2] = colour
    p[np.abs(u - 0.55) < 0.004] = 0.05
    for k in range(6):
        p[(np.abs(v - 0.85 - 0.015 * k) < 0.003) & (u < 0.4)] = 0.15
    return np.clip(p, 0, 1).astype(np.float32)


def _look_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(mean, 99th percentile, max after a σ = 4 px blur) of the per-pixel difference."""
    diff = np.abs(a - b).max(axis=2)
    soft = np.abs(cv2.GaussianBlur(a, (0, 0), 4) - cv2.GaussianBlur(b, (0, 0), 4)).max(axis=2)
    return float(diff.mean()), float(np.percentile(diff, 99)), float(soft.max())


def test_drawing_looks_the_same_at_2_and_8_megapixels() -> None:
    """The drawing of a photo at 2 MP and of the same photo at 8 MP, downscaled to 2 MP.

    Ink lines are thresholded edges: where a line's edge falls a fraction of a pixel
    elsewhere, that pixel changes by up to the ink contrast, so the per-pixel maximum says
    nothing. What the eye reads is where lines are, how many and how heavy: so the mean
    difference (≤ 0.0015), the 99th percentile (≤ 0.03, ~8/255: the edges of lines) and
    the largest difference after a σ = 4 px blur (≤ 0.05: line weight and density).
    Measured: 0.0010 / 0.022 / 0.034 (the full-frame code drew 0.0010 / 0.017 / 0.040).
    The bounds are tight enough to see a change of look: lines 25 % heavier give
    0.0016 / 0.056 / 0.036, detail 0.4 instead of 0.5 gives 0.0015 / 0.046 / 0.080.
    Hatching is off: its stroke period is rounded to whole pixels at each size."""
    big = _drawing_photo(2160, 3840)
    small = cv2.resize(big, (1920, 1080), interpolation=cv2.INTER_AREA)
    ones = Field(np.ones(big.shape[:2], np.float32))

    def at_2mp(**params: Any) -> np.ndarray:
        drawn = modulation.drawing.func(Image(big), ones, hatching=0.0, **params).pixels
        return np.asarray(cv2.resize(drawn, (1920, 1080), interpolation=cv2.INTER_AREA))

    reference = modulation.drawing.func(
        Image(small), Field(np.ones((1080, 1920), np.float32)), hatching=0.0
    ).pixels
    mean, p99, soft = _look_difference(reference, at_2mp())
    assert mean <= 0.0015 and p99 <= 0.03 and soft <= 0.05, (mean, p99, soft)
    heavier = _look_difference(reference, at_2mp(line_weight=2.0))
    assert heavier[1] > 0.03, "the bounds would not see lines 25 % heavier"


# -- memory: the output frame and little else -----------------------------------------------
MEMORY_NODES: list[tuple[str, Callable[[dict[str, Any]], Any], int, float]] = [
    ("atmosphere", lambda i: modulation.atmosphere.func(i["image"], i["depth"]), 3, 2.0),
    # small radii blur the innermost layers at half size (4-channel half-size layers:
    # 1/3 frame each), larger ones at 1/4 and below; both keep each pixel's blurred share
    # for the composite pass (1/3 frame). Measured 3.24 and 1.80 frames
    ("isolate", lambda i: modulation.isolate.func(i["image"], i["field"], max_radius=10), 3, 3.4),
    ("isolate", lambda i: modulation.isolate.func(i["image"], i["field"], max_radius=60), 3, 2.0),
    ("halo", lambda i: modulation.halo.func(i["image"], i["field"]), 3, 2.0),
    ("drawing", lambda i: modulation.drawing.func(i["image"], i["field"]), 3, 2.0),
    (
        "depth_band",
        lambda i: modulation.depth_band.func(i["image"], i["field"], style="pixelate"),
        3,
        1.5,
    ),
    ("blend", lambda i: modulation.blend.func(i["image"], i["image"], i["field"]), 3, 2.0),
    ("relight", lambda i: geometry.relight.func(i["image"], i["normals"]), 3, 2.0),
    # the Normals slot's own validation adds a frame (isfinite, squared lengths)
    ("normals", lambda i: geometry.normals.func(i["depth"]), 3, 2.2),
    ("field.blur", lambda i: fields.blur.func(i["field"], radius=40.0), 1, 2.0),
    ("field.from_mask", lambda i: fields.from_mask.func(i["mask"]), 1, 2.0),
    ("field.remap", lambda i: fields.remap.func(i["field"], gamma=2.0), 1, 2.0),
]


@pytest.mark.parametrize(("label", "call", "channels", "bound"), MEMORY_NODES)
def test_peak_memory_is_a_small_multiple_of_the_output(
    label: str,
    call: Callable[[dict[str, Any]], Any],
    channels: int,
    bound: float,
) -> None:
    """Peak of the numpy (and cv2-result) allocations in one call of a node on an 8-bit
    1920x1080 photo, in float32 output frames (3 channels for images and normals, 1 for
    fields; the output itself is one): the full-frame code took 4-10 frames; band by band
    it is the output, low-resolution state, and band temporaries (a fixed size, or 8x a
    kernel's halo), a smaller share the larger the frame."""
    pixels, depth = scene(1080, 1920)
    inputs = {
        "image": image_of(pixels, "8-bit"),
        "depth": Depth(depth),
        "field": Field(depth),
        "mask": Field((depth > 0.5).astype(np.float32)),
        "normals": geometry.normals.func(Depth(depth)),
    }
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = call(inputs)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    frames = peak / (1080 * 1920 * channels * 4)
    assert out is not None
    assert frames <= bound, f"{label}: {frames:.2f} output frames"
