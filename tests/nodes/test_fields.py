"""Field nodes on synthetic arrays with explicit tolerances."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gateway_studio.engine import Depth, Field, GatewayError, Image, Mask
from nodes import fields
from nodes._filters import gaussian_blur, guided_filter, pixel_scale, scaled_radius
from nodes._resample import DIRECT_SIGMA, BandedGaussian

RNG = np.random.default_rng(7)


def run(spec: Any, *inputs: Any, **params: Any) -> Field:
    """Call a node with its defaults overridden by ``params``, coercing inputs like the
    evaluator does (a Depth into a Field input)."""
    values = {**spec.default_params(), **params}
    args = [
        s.coerce(v) if v is not None else None for s, v in zip(spec.inputs, inputs, strict=False)
    ]
    out = spec.func(*args, **values)
    assert isinstance(out, Field)
    check_field(out, inputs[0].size)
    return out


def check_field(out: Field, size: tuple[int, int]) -> None:
    v = out.values
    assert v.dtype == np.float32 and v.shape == size
    assert np.isfinite(v).all() and v.min() >= 0.0 and v.max() <= 1.0


def ramp_depth(h: int = 64, w: int = 256) -> Depth:
    """Inverse depth rising left → right from 0 to 1 (the right side is nearest)."""
    return Depth(np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1)))


# -- from_depth --------------------------------------------------------------------------
def test_band_stays_inside_its_band() -> None:
    depth = ramp_depth(w=1001)
    d = depth.values
    centre, width, softness = 0.4, 0.1, 0.15
    v = run(
        fields.from_depth, depth, shape="band", centre=centre, width=width, softness=softness
    ).values
    dist = np.abs(d - centre)
    assert np.all(v[dist > width + softness + 1e-6] == 0.0)
    assert np.allclose(v[dist <= width - 1e-6], 1.0)
    shoulder = (dist > width + 1e-3) & (dist < width + softness - 1e-3)
    assert np.all((v[shoulder] > 0) & (v[shoulder] < 1))
    # the shoulder falls monotonically away from the band on both sides
    row = v[0]
    peak = int(np.argmin(np.abs(d[0] - centre)))
    assert np.all(np.diff(row[peak:]) <= 1e-7) and np.all(np.diff(row[: peak + 1]) >= -1e-7)


def test_band_without_softness_is_a_hard_band() -> None:
    depth = ramp_depth(w=501)
    v = run(fields.from_depth, depth, shape="band", centre=0.5, width=0.2, softness=0.0).values
    inside = np.abs(depth.values - 0.5) <= 0.2
    assert np.array_equal(v == 1.0, inside) and set(np.unique(v)) <= {0.0, 1.0}


def test_decay_is_one_at_focus_and_monotone_away() -> None:
    depth = ramp_depth(w=1001)
    focus, falloff = 0.3, 0.1
    v = run(fields.from_depth, depth, shape="decay", focus=focus, falloff=falloff).values[0]
    d = depth.values[0]
    at = int(np.argmin(np.abs(d - focus)))
    assert v[at] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(v[at:]) < 0) and np.all(np.diff(v[: at + 1]) > 0)
    # "falloff" is the depth distance at which the field has halved
    half = int(np.argmin(np.abs(d - (focus + falloff))))
    assert v[half] == pytest.approx(0.5, abs=1e-3)
    wider = run(fields.from_depth, depth, shape="decay", focus=focus, falloff=0.3).values[0]
    assert np.all(wider >= v - 1e-7) and wider.mean() > v.mean() + 0.1


def test_invert_and_field_input() -> None:
    depth = ramp_depth()
    v = run(fields.from_depth, depth, shape="invert").values
    assert np.allclose(v, 1.0 - depth.values)
    as_field = run(fields.from_depth, Field(depth.values), shape="invert").values
    assert np.array_equal(v, as_field)


# -- combine ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "formula"),
    [
        ("multiply", lambda a, b: a * b),
        ("max", np.maximum),
        ("min", np.minimum),
        ("screen", lambda a, b: 1 - (1 - a) * (1 - b)),
        ("lerp", lambda a, b: a + (b - a) * 0.3),
    ],
)
def test_combine_matches_formula(op: str, formula: Any) -> None:
    a = RNG.random((40, 60), dtype=np.float32)
    b = RNG.random((40, 60), dtype=np.float32)
    out = run(fields.combine, Field(a), Field(b), None, op=op, t=0.3).values
    np.testing.assert_allclose(out, formula(a, b), atol=1e-6)


def test_combine_lerp_by_factor_field_and_depth_input() -> None:
    a = RNG.random((30, 50), dtype=np.float32)
    b = RNG.random((30, 50), dtype=np.float32)
    k = RNG.random((30, 50), dtype=np.float32)
    out = run(fields.combine, Depth(a), Field(b), Field(k), op="lerp", t=0.9).values
    np.testing.assert_allclose(out, a + (b - a) * k, atol=1e-6)  # the field wins over t


def test_combine_refuses_mismatched_sizes() -> None:
    with pytest.raises(GatewayError, match="sizes differ"):
        fields.combine.func(
            Field(np.zeros((10, 10), np.float32)),
            Field(np.zeros((10, 12), np.float32)),
            op="max",
            t=0.5,
        )


# -- blur ---------------------------------------------------------------------------------
def step(h: int = 216, w: int = 216) -> np.ndarray:
    """0 on the left half, 1 on the right half."""
    v = np.zeros((h, w), np.float32)
    v[:, w // 2 :] = 1.0
    return v


def test_blur_softens_and_radius_zero_is_identity() -> None:
    v = step()
    out = run(fields.blur, Field(v), None, radius=40.0).values
    mid = v.shape[1] // 2
    assert 0.05 < out[100, mid - 3] < 0.5 < out[100, mid + 2] < 0.95
    assert np.array_equal(run(fields.blur, Field(v), None, radius=0.0).values, v)


def test_edge_preserving_blur_keeps_the_guide_edge() -> None:
    v = step()
    noisy = np.clip(v + RNG.normal(0, 0.15, v.shape).astype(np.float32), 0, 1)
    guide = Image(np.repeat(v[..., None], 3, axis=2) * 0.8 + 0.1)
    mid = v.shape[1] // 2
    plain = run(fields.blur, Field(noisy), guide, radius=60.0, edge_preserving=False).values
    edged = run(
        fields.blur, Field(noisy), guide, radius=60.0, edge_preserving=True, edge_threshold=0.05
    ).values
    lax = run(
        fields.blur, Field(noisy), guide, radius=60.0, edge_preserving=True, edge_threshold=0.5
    ).values

    def contrast(out: np.ndarray) -> float:  # difference 2 px either side of the edge
        return float(out[:, mid + 2].mean() - out[:, mid - 3].mean())

    assert contrast(plain) < 0.6
    assert contrast(edged) > 0.85
    assert contrast(plain) < contrast(lax) < contrast(edged) - 0.1  # the threshold knob
    # ... and still smooths the noise away from the edge
    assert edged[:, 10:60].std() < 0.5 * noisy[:, 10:60].std()


def test_edge_preserving_without_guide_uses_the_field() -> None:
    v = step()
    out = run(fields.blur, Field(v), None, radius=60.0, edge_preserving=True).values
    mid = v.shape[1] // 2
    assert out[:, mid + 2].mean() - out[:, mid - 3].mean() > 0.85


def test_blur_radius_is_relative_to_a_1080_frame() -> None:
    """A proxy (half size) blurred looks like the full-size blur, downscaled."""
    import cv2

    big = step(432, 432)
    small = cv2.resize(big, (216, 216), interpolation=cv2.INTER_AREA)
    full = run(fields.blur, Field(big), None, radius=80.0).values
    proxy = run(fields.blur, Field(small), None, radius=80.0).values
    down = cv2.resize(full, (216, 216), interpolation=cv2.INTER_AREA)
    assert np.abs(proxy - down).max() < 0.03
    assert scaled_radius(10, (2160, 3840)) == 20 and pixel_scale((1080, 1920)) == 1


@pytest.mark.parametrize("sigma", [4.01, 5.3, 7.0, 12.0, 40.0])
def test_wide_blurs_on_a_downscaled_copy_match_the_exact_blur(sigma: float) -> None:
    """A blur on a downscaled copy (``_resample.blur_plan``, from sigma 4 where a node
    asks, else past DIRECT_SIGMA) is within 2/255 of the exact blur on a hard 0-1 edge
    and 0.5/255 on a photo-like texture (without counting the bilinear upsampling's own
    blur: 3.5/255 on the texture at sigma 4)."""
    import cv2

    v = step(300, 500)
    v[100:140, 50:90] = 1.0
    texture = cv2.GaussianBlur(RNG.random((300, 500), dtype=np.float32), (0, 0), 1.5)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    for values, bound in ((v, 2.0 / 255), (texture, 0.5 / 255)):
        ref = cv2.GaussianBlur(values, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        banded = BandedGaussian(lambda t, b, a=values: a[t:b], (300, 500), sigma, direct_up_to=4.0)
        assert banded.small is not None  # the downscaled path, not the exact one
        assert np.abs(banded.rows(0, 300) - ref).max() < bound
        if sigma > DIRECT_SIGMA:
            assert np.abs(gaussian_blur(values, sigma) - ref).max() < bound


def test_guided_filter_is_identity_for_the_guide_itself_with_tiny_eps() -> None:
    g = RNG.random((64, 64), dtype=np.float32)
    assert np.abs(guided_filter(g, g, 4, 1e-8) - g).max() < 1e-2


# -- from_mask ----------------------------------------------------------------------------
def square_mask(h: int = 216, w: int = 216) -> Mask:
    m = np.zeros((h, w), np.float32)
    m[60:160, 60:160] = 1.0
    return Mask(m)


def test_from_mask_feather_is_monotone_across_the_edge() -> None:
    mask = square_mask()
    v = run(fields.from_mask, mask, feather=100.0, grow=0.0).values  # 20 px at this size
    row = v[110]
    assert np.all(np.diff(row[:110]) >= 0) and np.all(np.diff(row[110:]) <= 0)
    assert row[0] == 0.0 and row[110] == 1.0
    # centred on the edge: the last inside and first outside pixels straddle 0.5
    assert row[59] < 0.5 < row[60] and row[59] + row[60] == pytest.approx(1.0, abs=1e-5)
    soft = (v > 0) & (v < 1)
    assert soft.sum() > 4 * 100 * 15  # a real soft rim all round, ~20 px wide


def test_from_mask_grow_and_shrink() -> None:
    mask = square_mask()
    base = run(fields.from_mask, mask, feather=0.0, grow=0.0).values
    assert np.array_equal(base, mask.values)  # no feather, no grow = the mask itself
    grown = run(fields.from_mask, mask, feather=0.0, grow=50.0).values  # +10 px
    shrunk = run(fields.from_mask, mask, feather=0.0, grow=-50.0).values
    assert grown[110, 51] == 1.0 and grown[110, 49] == 0.0
    assert shrunk[110, 69] == 0.0 and shrunk[110, 71] == 1.0
    assert shrunk.sum() < base.sum() < grown.sum()


def test_from_mask_handles_empty_and_full() -> None:
    for fill in (0.0, 1.0):
        m = Mask(np.full((20, 30), fill, np.float32))
        assert np.all(run(fields.from_mask, m, feather=30.0, grow=10.0).values == fill)


# -- from_point ---------------------------------------------------------------------------
def test_from_point_peaks_at_the_point_and_is_round() -> None:
    ref = Image(np.zeros((120, 300, 3), np.float32))
    x, y, radius = 90.5 / 300, 72.5 / 120, 0.4  # on a pixel centre, so offsets are exact
    v = run(fields.from_point, ref, x=x, y=y, radius=radius, falloff=1.0).values
    r, c = np.unravel_index(int(np.argmax(v)), v.shape)
    assert abs(r + 0.5 - y * 120) <= 1 and abs(c + 0.5 - x * 300) <= 1
    assert v[r, c] > 0.99
    # aspect-correct: equal pixel offsets give equal values horizontally and vertically
    assert (r, c) == (72, 90)
    assert v[r, c + 20] == pytest.approx(v[r - 20, c], abs=1e-6)
    assert v[r + 15, c - 15] == pytest.approx(v[r - 15, c + 15], abs=1e-6)
    # zero beyond the radius (a fraction of the short side, 120 px)
    rows, cols = np.mgrid[0:120, 0:300]
    dist = np.hypot(rows + 0.5 - y * 120, cols + 0.5 - x * 300) / 120
    assert np.all(v[dist >= radius] == 0) and np.all(v[dist < radius - 0.01] > 0)


def test_from_point_falloff_zero_is_a_disc_and_takes_a_field_size() -> None:
    ref = Field(np.zeros((100, 100), np.float32))
    v = run(fields.from_point, ref, x=0.5, y=0.5, radius=0.2, falloff=0.0).values
    assert set(np.unique(v)) == {0.0, 1.0}
    assert v.sum() == pytest.approx(np.pi * 20**2, rel=0.05)
    soft = run(fields.from_point, ref, x=0.5, y=0.5, radius=0.2, falloff=0.5).values
    assert 0 < soft.sum() < v.sum()


# -- through the evaluator ----------------------------------------------------------------
def test_field_chain_runs_on_preview_proxies() -> None:
    """source → from_depth / from_point → combine → blur (guided), full size and proxy:
    depth feeds Field inputs by coercion and the proxy looks like the full render."""
    from pathlib import Path

    from gateway_studio.engine import Evaluator, Link, PatchGraph, SlotCache, default_registry

    images = Path(__file__).resolve().parents[2] / "resources" / "images"
    graph = PatchGraph(default_registry(), base_dir=images)
    graph.add_node("source.image", {"path": "scene.png"}, node_id="photo")
    graph.add_node("depth.from_file", {"path": "scene_depth.png"}, node_id="depth")
    graph.add_node("field.from_depth", {"shape": "band", "centre": 0.6}, node_id="band")
    graph.add_node("field.from_point", {"x": 0.25, "y": 0.7}, node_id="point")
    graph.add_node("field.combine", {"op": "screen"}, node_id="mix")
    graph.add_node("field.blur", {"radius": 30.0, "edge_preserving": True}, node_id="soft")
    for link in [
        ("depth", "depth", "band", "depth"),
        ("photo", "image", "point", "size_of"),
        ("band", "field", "mix", "a"),
        ("point", "field", "mix", "b"),
        ("mix", "field", "soft", "source"),
        ("photo", "image", "soft", "guide"),
    ]:
        graph.connect(Link(*link))
    evaluator = Evaluator(SlotCache(None))
    full = evaluator.evaluate(graph, strict=True)
    proxy = evaluator.evaluate(graph, strict=True, preview=240)
    assert full.ok and proxy.ok, (full.report(), proxy.report())
    big = full.output("soft").values
    small = proxy.output("soft").values
    assert big.shape == (640, 960) and small.shape == (160, 240)
    import cv2

    down = cv2.resize(big, (240, 160), interpolation=cv2.INTER_AREA)
    assert np.abs(down - small).mean() < 0.03


# -- every knob, anywhere in its range ------------------------------------------------------
FIELD_NODES = [
    fields.from_depth,
    fields.combine,
    fields.blur,
    fields.from_mask,
    fields.from_point,
    fields.remap,
]


@pytest.mark.parametrize("spec", FIELD_NODES, ids=lambda s: s.type_id)
def test_any_params_give_a_valid_field(spec: Any) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    def param_strategy(p: Any) -> Any:
        if p.kind == "float":
            # slider values: 6 decimals (sub-1e-6 knobs are not a thing an artist sets)
            return st.floats(p.min, p.max, allow_nan=False).map(
                lambda x: min(max(round(x, 6), p.min), p.max)
            )
        if p.kind == "int":
            return st.integers(int(p.min), int(p.max))
        if p.kind == "bool":
            return st.booleans()
        return st.sampled_from(p.choices)

    params = st.fixed_dictionaries({p.name: param_strategy(p) for p in spec.params})
    rng = np.random.default_rng(11)
    smooth = rng.random((37, 53)).astype(np.float32)
    mask = Mask((smooth > 0.6).astype(np.float32))
    image = Image(rng.random((37, 53, 3), dtype=np.float32))
    inputs = {
        "depth": Depth(smooth),
        "a": Field(smooth),
        "b": mask,
        "factor": Field(1 - smooth),
        "source": Field(smooth),
        "guide": image,
        "mask": mask,
        "size_of": image,
    }

    @settings(max_examples=40, deadline=None, database=None)
    @given(params)
    def check(values: dict[str, Any]) -> None:
        args = [inputs[i.name] for i in spec.inputs]
        out = spec.func(*args, **values)
        check_field(out, (37, 53))

    check()
