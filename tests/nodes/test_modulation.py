"""Modulation nodes on synthetic scenes with known depth.

The main scene is two textured planes: the left half is near (depth 0.9) and reddish, the
right half is far (depth 0.1) and bluish, so every claim about "near", "far", "the
subject" and "bleeding across the depth edge" can be measured exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest

from gateway_studio.engine import Depth, Field, GatewayError, Image, Mask, default_registry
from nodes import modulation as mod

H, W = 96, 160
EDGE = W // 2  # columns < EDGE are near, >= EDGE are far
NEAR, FAR = 0.9, 0.1
IDS = (
    "modulate.atmosphere",
    "modulate.isolate",
    "modulate.halo",
    "modulate.depth_band",
    "modulate.drawing",
    "modulate.blend",
)


def _texture(seed: int, base: tuple[float, float, float]) -> np.ndarray:
    """Fine random texture around a base colour (high Laplacian variance)."""
    rng = np.random.default_rng(seed)
    noise = rng.random((H, W, 1), dtype=np.float32) - 0.5
    return np.clip(np.asarray(base, np.float32) + 0.5 * noise, 0, 1).astype(np.float32)


def two_planes(alpha: bool = False) -> tuple[Image, Depth]:
    near = _texture(1, (0.8, 0.25, 0.2))  # red subject
    far = _texture(2, (0.2, 0.35, 0.8))  # blue background
    pixels = far.copy()
    pixels[:, :EDGE] = near[:, :EDGE]
    depth = np.full((H, W), FAR, np.float32)
    depth[:, :EDGE] = NEAR
    a = None
    if alpha:
        a = np.tile(np.linspace(0.2, 1.0, W, dtype=np.float32), (H, 1))
    return Image(pixels, a), Depth(depth)


def field(values: float | np.ndarray) -> Field:
    return Field(np.broadcast_to(np.float32(values), (H, W)).astype(np.float32))


def laplacian_var(pixels: np.ndarray) -> float:
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def run(type_id: str, image: Image, depth: Depth, **params: Any) -> Image:
    """Call a node with the inputs it needs (depth for the depth-like ones)."""
    if type_id == "modulate.blend":
        other = Image(np.ascontiguousarray(image.pixels[:, ::-1]))
        return mod.blend(image, other, Field(depth.values), **params)
    spec = default_registry().get(type_id)
    amount = spec.inputs[1].coerce(depth)
    out = spec(image, amount, **params)
    assert isinstance(out, Image)
    return out


# -- every node -------------------------------------------------------------------------
def test_registered_with_mix_and_field_input() -> None:
    registry = default_registry()
    for type_id in IDS:
        spec = registry.get(type_id)
        assert spec.family == "modulation"
        assert spec.param("mix") is not None
        assert spec.inputs[0].types == (Image,)
        field_inputs = [i for i in spec.inputs if Field in i.types]
        assert field_inputs and field_inputs[0].accepts(Depth) and field_inputs[0].accepts(Mask)


@pytest.mark.parametrize("type_id", IDS)
def test_contract_size_range_alpha(type_id: str) -> None:
    image, depth = two_planes(alpha=True)
    out = run(type_id, image, depth)
    assert out.size == image.size
    assert np.isfinite(out.pixels).all()
    assert out.pixels.min() >= 0.0 and out.pixels.max() <= 1.0
    assert out.alpha is not None and np.array_equal(out.alpha, image.alpha)
    assert not np.allclose(out.pixels, image.pixels, atol=1e-3), "the default does nothing"
    assert image.pixels.flags.writeable is False  # the input was not touched


@pytest.mark.parametrize("type_id", IDS)
def test_mix_zero_gives_the_input(type_id: str) -> None:
    image, depth = two_planes()
    out = run(type_id, image, depth, mix=0.0)
    assert np.array_equal(out.pixels, image.pixels)


@pytest.mark.parametrize("type_id", IDS)
def test_mix_half_is_between(type_id: str) -> None:
    image, depth = two_planes()
    full = run(type_id, image, depth).pixels
    half = run(type_id, image, depth, mix=0.5).pixels
    expected = image.pixels + 0.5 * (full - image.pixels)
    assert np.abs(half - expected).max() < 2e-3


def _random_params(spec: Any, rng: np.random.Generator) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in spec.params:
        if p.kind == "float":
            params[p.name] = float(rng.uniform(p.min, p.max))
        elif p.kind == "int":
            params[p.name] = int(rng.integers(p.min, p.max + 1))
        elif p.kind == "choice":
            params[p.name] = str(rng.choice(p.choices))
        elif p.kind == "color":
            params[p.name] = f"#{int(rng.integers(0, 2**24)):06x}"
        elif p.kind == "bool":
            params[p.name] = bool(rng.integers(0, 2))
    return params


@pytest.mark.parametrize("type_id", IDS)
def test_any_params_keep_the_contract(type_id: str) -> None:
    """Random knob values anywhere in their ranges: size, finite, [0, 1], alpha kept."""
    rng = np.random.default_rng(IDS.index(type_id))
    spec = default_registry().get(type_id)
    image, depth = two_planes(alpha=True)
    other = Image(_texture(9, (0.4, 0.5, 0.6)))
    for _ in range(5):
        params = _random_params(spec, rng)
        params = {k: spec.param(k).validate(v) for k, v in params.items()}
        if type_id == "modulate.depth_band":
            out = spec(image, Field(depth.values), other, **params)
        else:
            out = run(type_id, image, depth, **params)
        assert out.size == image.size, params
        assert np.isfinite(out.pixels).all() and out.pixels.min() >= 0.0, params
        assert out.pixels.max() <= 1.0, params
        assert np.array_equal(out.alpha, image.alpha), params


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 4)])
def test_tiny_images(size: tuple[int, int]) -> None:
    h, w = size
    rng = np.random.default_rng(0)
    image = Image(rng.random((h, w, 3), dtype=np.float32))
    depth = Depth(rng.random((h, w), dtype=np.float32))
    outs = [
        mod.atmosphere(image, depth),
        mod.isolate(image, depth, max_radius=150),
        mod.halo(image, depth, radius=400),
        mod.depth_band(image, depth, style="pixelate", cell=200),
        mod.drawing(image, depth),
        mod.blend(image, image, depth, mode="overlay"),
    ]
    for out in outs:
        assert out.size == (h, w) and np.isfinite(out.pixels).all()


def test_field_of_other_size_is_refused_naming_both_sizes() -> None:
    image, depth = two_planes()
    small = Depth(cv2.resize(depth.values, (W // 2, H // 2), interpolation=cv2.INTER_NEAREST))
    sizes = rf"{W // 2}x{H // 2} but the image is {W}x{H}.*size_from"
    with pytest.raises(GatewayError, match=sizes):
        mod.atmosphere(image, small)
    with pytest.raises(GatewayError, match="sizes must match"):
        mod.atmosphere(image, Depth(np.zeros((H, H), np.float32)))


# -- atmosphere -------------------------------------------------------------------------
def test_atmosphere_far_moves_to_fog_near_stays() -> None:
    image, depth = two_planes()
    fog = np.array([0.8, 0.85, 0.9], np.float32)
    out = mod.atmosphere(image, depth, density=0.3, colour="#ccd9e6", desaturate=0.0)
    dist_in = np.abs(image.pixels - fog).mean(axis=2)
    dist_out = np.abs(out.pixels - fog).mean(axis=2)
    moved = dist_in - dist_out
    near_move = moved[:, :EDGE].mean()
    far_move = moved[:, EDGE:].mean()
    assert far_move > 0.03
    assert far_move > 5 * abs(near_move)
    # almost untouched: Koschmieder in linear light lifts the darkest texels a little
    assert np.abs(out.pixels[:, :EDGE] - image.pixels[:, :EDGE]).mean() < 0.01


def test_atmosphere_density_and_start() -> None:
    image, depth = two_planes()
    thin = mod.atmosphere(image, depth, density=0.3)
    thick = mod.atmosphere(image, depth, density=3.0)
    fog = np.array([0xC9, 0xD4, 0xDE], np.float32) / 255
    assert np.abs(thick.pixels[:, EDGE:] - fog).mean() < np.abs(thin.pixels[:, EDGE:] - fog).mean()
    # the air starts beyond both planes' depth... except the far one: near is exact
    started = mod.atmosphere(image, depth, density=3.0, start=0.5)
    assert np.array_equal(started.pixels[:, :EDGE], image.pixels[:, :EDGE])
    assert np.abs(started.pixels[:, EDGE:] - image.pixels[:, EDGE:]).mean() > 0.05


def test_atmosphere_desaturates_with_distance() -> None:
    image, depth = two_planes()

    def chroma(p: np.ndarray) -> float:
        return float((p.max(axis=2) - p.min(axis=2)).mean())

    grey_fog = mod.atmosphere(image, depth, density=1.0, colour="#808080", desaturate=0.0)
    desat = mod.atmosphere(image, depth, density=1.0, colour="#808080", desaturate=1.0)
    assert chroma(desat.pixels[:, EDGE:]) < chroma(grey_fog.pixels[:, EDGE:]) - 0.02


# -- isolate ----------------------------------------------------------------------------
#: Largest distance (px) from the depth edge at which the background may still hold any
#: of the subject's colour. The layered gather cuts the subject out at full resolution, so
#: there is none at all; 0 would also pass, 1 px allows for resampling round-off.
BLEED_PX = 1


def test_isolate_focus_plane_sharp_other_blurred_no_bleed() -> None:
    image, depth = two_planes()
    out = mod.isolate(image, depth, focus=NEAR, focus_range=0.0, aperture=4.0, max_radius=60)
    near_in, near_out = image.pixels[:, : EDGE - 2], out.pixels[:, : EDGE - 2]
    far_in, far_out = image.pixels[:, EDGE + 12 :], out.pixels[:, EDGE + 12 :]
    # the focus plane keeps its sharpness (Laplacian variance within 2 %) ...
    assert abs(laplacian_var(near_out) / laplacian_var(near_in) - 1.0) < 0.02
    # ... and is unchanged right up to the edge: the blurred background never smears over it
    assert np.abs(out.pixels[:, :EDGE] - image.pixels[:, :EDGE]).max() < 1e-4
    # the far plane is blurred
    assert laplacian_var(far_out) < 0.1 * laplacian_var(far_in)
    # no subject colour beyond BLEED_PX: repaint the subject green, the background side
    # must not change at all
    pixels = image.pixels.copy()
    pixels[:, :EDGE] = pixels[:, :EDGE, ::-1] * np.float32([0.2, 1.0, 0.2])
    green = mod.isolate(
        Image(pixels), depth, focus=NEAR, focus_range=0.0, aperture=4.0, max_radius=60
    )
    side = np.s_[:, EDGE + BLEED_PX :]
    assert np.abs(green.pixels[side] - out.pixels[side]).max() < 1e-4
    # whereas one Gaussian of the whole frame would have smeared it ~radius px wide
    naive = cv2.GaussianBlur(pixels, (0, 0), 3.0)
    assert (
        np.abs(
            naive[:, EDGE + 2 : EDGE + 6]
            - cv2.GaussianBlur(image.pixels, (0, 0), 3.0)[:, EDGE + 2 : EDGE + 6]
        ).max()
        > 0.05
    )


def test_isolate_near_defocus_spreads_over_far_focus() -> None:
    """Focus far: the near plane blurs and its bokeh may spill onto the background (a lens
    does that), but the far plane stays sharp beyond the bokeh's reach."""
    image, depth = two_planes()
    max_radius = 30.0
    out = mod.isolate(image, depth, focus=FAR, focus_range=0.0, aperture=4.0, max_radius=max_radius)
    reach = int(np.ceil(max_radius * H / 1080)) + 2
    far_in, far_out = image.pixels[:, EDGE + reach :], out.pixels[:, EDGE + reach :]
    assert np.abs(far_out - far_in).max() < 1e-4
    assert laplacian_var(out.pixels[:, : EDGE - reach]) < 0.1 * laplacian_var(
        image.pixels[:, : EDGE - reach]
    )


def test_isolate_subject_mask_is_kept_sharp() -> None:
    image, depth = two_planes()
    subject = np.zeros((H, W), np.float32)
    subject[:, :EDGE] = 1.0
    out = mod.isolate(image, depth, Mask(subject), focus=FAR, focus_range=0.0, aperture=4.0)
    assert np.abs(out.pixels[:, :EDGE] - image.pixels[:, :EDGE]).max() < 1e-4
    assert np.abs(out.pixels[:, EDGE:] - image.pixels[:, EDGE:]).max() < 1e-4


def test_isolate_radius_grows_with_depth_distance() -> None:
    """A depth ramp: the farther from the focus, the blurrier (monotone in bands)."""
    rng = np.random.default_rng(3)
    pixels = rng.random((H, W, 3), dtype=np.float32)
    ramp = np.tile(np.linspace(1.0, 0.0, W, dtype=np.float32), (H, 1))
    out = mod.isolate(
        Image(pixels), Depth(ramp), focus=1.0, focus_range=0.0, aperture=1.0, max_radius=40
    )
    bands = [laplacian_var(out.pixels[:, i : i + 32]) for i in range(0, W, 32)]
    assert all(a > b for a, b in itertools.pairwise(bands)), bands


# -- halo -------------------------------------------------------------------------------
def test_halo_only_where_highlights_and_field_are() -> None:
    pixels = np.full((H, W, 3), 0.15, np.float32)
    spots = [(H // 2, W // 4), (H // 2, 3 * W // 4)]
    for y, x in spots:
        pixels[y - 3 : y + 3, x - 3 : x + 3] = 0.97
    amount = np.zeros((H, W), np.float32)
    amount[:, :EDGE] = 1.0  # the left spot's side only
    image = Image(pixels)
    out = mod.halo(image, Field(amount), radius=200.0, intensity=2.0)
    gain = out.pixels.mean(axis=2) - pixels.mean(axis=2)
    (ly, lx), (ry, rx) = spots
    assert gain[ly, lx + 8] > 0.05  # glow beside the left highlight
    assert np.abs(gain[ry - 12 : ry + 12, rx - 12 : rx + 12]).max() < 1e-3  # field 0
    assert np.abs(gain[:, :4]).max() < 5e-3  # field 1 but far from any highlight
    assert gain.min() > -1e-4  # a glow only adds light


def test_halo_threshold_and_tint() -> None:
    pixels = np.full((H, W, 3), 0.15, np.float32)
    pixels[40:56, 70:90] = 0.7
    image = Image(pixels)
    ones = field(1.0)
    assert np.abs(mod.halo(image, ones, threshold=0.95).pixels - pixels).max() < 1e-3
    warm = mod.halo(image, ones, threshold=0.5, tint="#ff8000").pixels
    ring = warm[36:39, 70:90]
    assert (ring[..., 0] - ring[..., 2]).mean() > 0.02


# -- depth band -------------------------------------------------------------------------
def _band() -> np.ndarray:
    band = np.zeros((H, W), np.float32)
    band[:, 60:100] = np.linspace(0, 1, 40, dtype=np.float32)[None, :] ** 0.5
    band[:, 100:120] = 1.0
    return band


@pytest.mark.parametrize("style", ["posterize", "tint", "desaturate", "pixelate", "image"])
def test_depth_band_stays_inside_its_band(style: str) -> None:
    image, _ = two_planes()
    band = _band()
    other = Image(np.full((H, W, 3), 0.5, np.float32))
    out = mod.depth_band(image, Field(band), other, style=style, cell=60)
    outside = band == 0
    assert np.array_equal(out.pixels[outside], image.pixels[outside])
    inside = band == 1
    assert np.abs(out.pixels[inside] - image.pixels[inside]).mean() > 0.01
    # soft edges: the change grows with the field
    change = np.abs(out.pixels - image.pixels).mean(axis=2)[:, 60:100].mean(axis=0)
    assert change[-5:].mean() > change[:5].mean()


def test_depth_band_styles_do_what_they_say() -> None:
    image, _ = two_planes()
    ones = field(1.0)
    post = mod.depth_band(image, ones, style="posterize", levels=3).pixels
    assert set(np.unique(np.round(post * 2, 4))) <= {0.0, 1.0, 2.0}
    grey = mod.depth_band(image, ones, style="desaturate").pixels
    assert np.abs(grey[..., 0] - grey[..., 2]).max() < 1e-5
    px = mod.depth_band(image, ones, style="pixelate", cell=120).pixels  # ~10 px cells
    assert len(np.unique(px[..., 1])) < 0.05 * H * W
    tinted = mod.depth_band(image, ones, style="tint", colour="#ff0000").pixels
    assert tinted[..., 1].max() < 1e-5 and tinted[..., 0].mean() > 0.2
    with pytest.raises(GatewayError, match="style_image"):
        mod.depth_band(image, ones, style="image")


# -- drawing ----------------------------------------------------------------------------
def _photo(height: int = H, width: int = W) -> Image:
    from gateway_studio.engine.imageio import read_image
    from tests.conftest import RESOURCES

    img = read_image(RESOURCES / "images" / "scene.png")
    return img.resized(height, width)


def test_drawing_field_zero_is_photo_one_is_sketch() -> None:
    photo = _photo()
    same = mod.drawing(photo, field(0.0))
    assert np.array_equal(same.pixels, photo.pixels)
    sketch = mod.drawing(photo, field(1.0)).pixels
    chroma = (sketch.max(axis=2) - sketch.min(axis=2)).mean()
    photo_chroma = (photo.pixels.max(axis=2) - photo.pixels.min(axis=2)).mean()
    assert chroma < 0.06 < photo_chroma
    assert sketch.mean() > 0.6 > photo.pixels.mean()  # light paper
    assert (sketch.mean(axis=2) < 0.5).mean() > 0.01  # and some ink on it


def test_drawing_knobs_are_visible() -> None:
    photo = _photo(320, 480)  # knobs are in 1080-frame pixels: use a not-too-small frame
    ones = Field(np.ones(photo.size, np.float32))
    base = mod.drawing(photo, ones).pixels
    for knob, value in (
        ("line_weight", 5.0),
        ("detail", 1.0),
        ("hatching", 0.0),
        ("paper", "#ffffff"),
        ("ink", "#0000ff"),
    ):
        other = mod.drawing(photo, ones, **{knob: value}).pixels
        assert np.abs(other - base).mean() > 2e-3, knob
    # more hatching → more ink
    assert (
        mod.drawing(photo, ones, hatching=1.0).pixels.mean()
        < mod.drawing(photo, ones, hatching=0.0).pixels.mean()
    )


def test_drawing_background_dissolves_subject_stays() -> None:
    image, depth = two_planes()
    far_field = Field((1.0 - depth.values).astype(np.float32))  # 0.1 on near, 0.9 on far
    out = mod.drawing(image, Field(np.where(depth.values > 0.5, 0.0, 1.0).astype(np.float32)))
    assert np.array_equal(out.pixels[:, :EDGE], image.pixels[:, :EDGE])
    assert np.abs(out.pixels[:, EDGE:] - image.pixels[:, EDGE:]).mean() > 0.1
    assert mod.drawing(image, far_field).size == image.size


# -- blend ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "formula"),
    [
        ("normal", lambda a, b: b),
        ("multiply", lambda a, b: a * b),
        ("screen", lambda a, b: 1 - (1 - a) * (1 - b)),
        ("overlay", lambda a, b: np.where(a < 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b))),
        ("add", lambda a, b: np.minimum(a + b, 1)),
    ],
)
def test_blend_modes_through_field(
    mode: str, formula: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> None:
    image, depth = two_planes()
    layer = Image(_texture(7, (0.5, 0.6, 0.4)))
    out = mod.blend(image, layer, depth, mode=mode).pixels
    expect = formula(image.pixels, layer.pixels)
    w = depth.values[..., None]
    assert np.abs(out - (image.pixels + (expect - image.pixels) * w)).max() < 1e-4
    zero = mod.blend(image, layer, field(0.0), mode=mode)
    assert np.array_equal(zero.pixels, image.pixels)


def test_blend_respects_layer_alpha() -> None:
    image, _ = two_planes()
    layer = Image(np.ones((H, W, 3), np.float32), np.zeros((H, W), np.float32))
    assert np.array_equal(mod.blend(image, layer, field(1.0)).pixels, image.pixels)


# -- example patches --------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fog", "isolate", "halo", "depth_band_style", "drawing", "blend"])
def test_example_patch_renders(name: str, tmp_path: Any) -> None:
    from gateway_studio.engine import Evaluator, SlotCache, load_patch
    from gateway_studio.engine.imageio import read_image
    from tests.conftest import RESOURCES

    graph = load_patch(RESOURCES / "patches" / f"{name}.json")
    target = tmp_path / f"{name}.png"
    graph.set_param("export", "path", str(target))
    graph.write_consent = graph.write_consent.allow_file(target)  # as --set would
    result = Evaluator(SlotCache(None)).evaluate(graph, strict=True)
    assert result.ok, result.report()
    out = read_image(target)
    scene = read_image(RESOURCES / "images" / "scene.png")
    assert out.size == scene.size
    assert np.abs(out.pixels - scene.pixels).mean() > 0.01  # the effect shows


# -- every knob does something visible ---------------------------------------------------
#: (node, context params, knob, other value): context sets the mode a knob belongs to.
KNOBS = [
    ("modulate.atmosphere", {}, "density", 4.0),
    ("modulate.atmosphere", {}, "colour", "#ff0000"),
    ("modulate.atmosphere", {}, "start", 0.5),
    ("modulate.atmosphere", {}, "depth_range", 1.5),
    ("modulate.atmosphere", {}, "desaturate", 0.0),
    ("modulate.isolate", {"focus": NEAR}, "focus", FAR),
    ("modulate.isolate", {"focus": 0.8}, "focus_range", 0.2),
    ("modulate.isolate", {"focus": NEAR}, "aperture", 1.0),
    ("modulate.isolate", {"focus": NEAR}, "max_radius", 80.0),
    ("modulate.halo", {"radius": 200.0}, "threshold", 0.2),
    ("modulate.halo", {"threshold": 0.4}, "radius", 300.0),
    ("modulate.halo", {"threshold": 0.4}, "intensity", 4.0),
    ("modulate.halo", {"threshold": 0.4}, "tint", "#0000ff"),
    ("modulate.depth_band", {}, "style", "desaturate"),
    ("modulate.depth_band", {"style": "posterize"}, "levels", 2),
    ("modulate.depth_band", {"style": "tint"}, "colour", "#00ff00"),
    ("modulate.depth_band", {"style": "pixelate"}, "cell", 150.0),
    ("modulate.blend", {}, "mode", "multiply"),
]


@pytest.mark.parametrize(("type_id", "context", "knob", "value"), KNOBS)
def test_knob_is_visible(type_id: str, context: dict[str, Any], knob: str, value: Any) -> None:
    image, depth = two_planes()
    base = run(type_id, image, depth, **context).pixels
    other = run(type_id, image, depth, **{**context, knob: value}).pixels
    assert np.abs(other - base).mean() > 2e-3


# -- previews look like renders ----------------------------------------------------------
@pytest.mark.parametrize(
    ("type_id", "params"),
    [
        ("modulate.isolate", {"focus": 0.9, "max_radius": 40.0}),
        ("modulate.halo", {"threshold": 0.4, "radius": 120.0}),
        ("modulate.atmosphere", {}),
        ("modulate.depth_band", {"style": "pixelate", "cell": 40.0}),
    ],
)
def test_proxy_matches_full_size(type_id: str, params: dict[str, Any]) -> None:
    """Knobs are in 1080-frame pixels: a half-size proxy ≈ the full render, downscaled."""
    from gateway_studio.engine.imageio import read_image
    from tests.conftest import RESOURCES

    photo = read_image(RESOURCES / "images" / "scene.png").resized(320, 480)
    depth = Depth(cv2.resize(two_planes()[1].values, (480, 320)))  # near left, far right
    small_photo, small_depth = photo.resized(160, 240), depth.resized(160, 240)
    spec = default_registry().get(type_id)
    full = spec(photo, spec.inputs[1].coerce(depth), **params).resized(160, 240).pixels
    proxy = spec(small_photo, spec.inputs[1].coerce(small_depth), **params).pixels
    change = np.abs(full - small_photo.pixels).mean()
    assert change > 0.005
    assert np.abs(proxy - full).mean() < 0.25 * change


@pytest.mark.parametrize("type_id", IDS)
def test_linear_images_stay_linear(type_id: str) -> None:
    image, depth = two_planes()
    linear = Image(np.ascontiguousarray(image.pixels**2), colorspace="linear")
    out = run(type_id, linear, depth)
    assert out.colorspace == "linear"
    assert np.isfinite(out.pixels).all() and 0.0 <= out.pixels.min() <= out.pixels.max() <= 1.0
    assert not np.allclose(out.pixels, linear.pixels, atol=1e-3)


def test_transparent_pixels_neither_bleed_into_the_blur_nor_glow() -> None:
    # A white cut-out (left, opaque) beside black transparent pixels (right): blurring it
    # must not darken its visible edge, and a bright transparent area must not glow.
    h, w = 60, 80
    pixels = np.zeros((h, w, 3), np.float32)
    pixels[:, :40] = 1.0
    alpha = np.zeros((h, w), np.float32)
    alpha[:, :40] = 1.0
    cutout = Image(pixels, alpha)
    out = mod.isolate(cutout, Field(np.full((h, w), 0.2, np.float32)), focus=0.9, max_radius=100.0)
    assert np.abs(out.pixels[:, :40] - 1.0).max() < 1e-3  # was 0.75 at the edge
    assert np.array_equal(out.alpha, alpha)
    dim = np.full((h, w, 3), 0.2, np.float32)
    dim[:, 60:] = 1.0
    hidden = np.ones((h, w), np.float32)
    hidden[:, 60:] = 0.0
    glow = mod.halo(
        Image(dim, hidden), Field(np.ones((h, w), np.float32)), threshold=0.5, radius=400.0
    )
    assert np.abs(glow.pixels[:, :60] - 0.2).max() < 1e-3
    lit = mod.halo(Image(dim), Field(np.ones((h, w), np.float32)), threshold=0.5, radius=400.0)
    assert lit.pixels[:, 55].mean() > 0.25  # the same highlight, visible, does glow
