"""The slot contracts, above all the Depth convention (1.0 = nearest)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway_studio.engine import (
    SLOT_TYPES,
    Depth,
    Face,
    Faces,
    Field,
    Files,
    Image,
    Mask,
    Normals,
    PointCloud,
    Segments,
    SlotError,
)
from gateway_studio.engine.slot_codec import entry_bytes, read_entry


def test_metric_ramp_becomes_inverse_depth_near_one_far_zero() -> None:
    metres = np.tile(np.linspace(1.0, 10.0, 64), (8, 1))  # left near (1 m), right far (10 m)
    depth = Depth.from_metric(metres)
    assert depth.values.dtype == np.float32
    assert depth.values.shape == metres.shape
    assert depth.values[:, 0] == pytest.approx(1.0)
    assert depth.values[:, -1] == pytest.approx(0.0)
    assert np.all(np.diff(depth.values[0]) < 0), "farther must be smaller"
    # linear in inverse depth: 1/d normalised
    expected = (1 / metres - 0.1) / (1.0 - 0.1)
    np.testing.assert_allclose(depth.values, expected, atol=1e-6)
    assert depth.source_convention == "metric"
    assert depth.raw_range == (1.0, 10.0)


def test_metric_invalid_pixels_are_holes_not_far() -> None:
    metres = np.array([[1.0, 2.0], [0.0, np.nan]])
    depth = Depth.from_metric(metres)
    assert depth.values[0, 0] == 1.0 and depth.values[0, 1] == 0.0
    assert depth.valid is not None
    assert depth.valid.tolist() == [[True, True], [False, False]]
    # the shared fill: each hole takes its nearest valid pixel (straight above it)
    assert depth.values[1, 0] == 1.0 and depth.values[1, 1] == 0.0
    assert depth.fill == "nearest" and depth.hole_fraction == 0.5
    assert depth.metric_range == pytest.approx((1.0, 2.0))


def test_disparity_larger_is_nearer_and_zero_is_invalid() -> None:
    disp = np.array([[10.0, 5.0, 0.0, np.inf]])
    depth = Depth.from_disparity(disp)
    assert depth.values.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert depth.valid is not None and depth.valid.tolist() == [[True, True, False, False]]
    assert depth.source_convention == "disparity" and depth.metric_range is None


def test_encoded_16bit_inverse_is_lighter_nearer_and_round_trips() -> None:
    raw = np.array([[65535, 0], [32768, 1]], dtype=np.uint16)  # 0 = no depth
    depth = Depth.from_encoded(raw, convention="inverse")
    assert depth.values[0, 0] == 1.0 and depth.values[1, 1] == 0.0
    assert depth.valid is not None and depth.valid.tolist() == [[True, False], [True, True]]
    np.testing.assert_array_equal(depth.to_uint16(), raw)
    assert depth.source_convention == "encoded-16bit-inverse"


def test_encoded_8bit_and_metric_png() -> None:
    assert Depth.from_encoded(np.array([[255, 0]], dtype=np.uint8)).values.tolist() == [[1, 0]]
    kinect = np.array([[1000, 4000, 0]], dtype=np.uint16)  # millimetres, 0 = invalid
    depth = Depth.from_encoded(kinect, convention="metric", scale=0.001)
    assert depth.values[0, 0] == 1.0 and depth.values[0, 1] == 0.0
    assert depth.valid is not None and not depth.valid[0, 2]
    assert depth.metric_range == pytest.approx((1.0, 4.0))
    with pytest.raises(SlotError, match="uint8 or uint16"):
        Depth.from_encoded(np.zeros((2, 2), np.float32))
    with pytest.raises(SlotError, match="unknown convention"):
        Depth.from_encoded(np.zeros((2, 2), np.uint8), convention="sideways")  # type: ignore[arg-type]


def test_normalisations() -> None:
    raw = np.concatenate([np.linspace(0, 1, 98), [50.0, -50.0]]).reshape(10, 10)
    robust = Depth.from_inverse(raw, normalisation="percentile")
    minmax = Depth.from_inverse(raw)
    assert robust.normalisation == "percentile"

    def iqr(v: np.ndarray) -> float:
        q1, q3 = np.percentile(v, [25, 75])
        return float(q3 - q1)

    assert iqr(robust.values) > 10 * iqr(minmax.values)  # two outliers no longer squash it
    fixed = Depth.from_inverse(np.array([[0.5, 2.0]]), normalisation="fixed", fixed_range=(4, 0))
    assert fixed.values.tolist() == [[0.125, 0.5]]
    for reversed_or_equal in ((0, 4), (2, 2)):
        with pytest.raises(SlotError, match="near value must be larger"):
            Depth.from_inverse(raw, normalisation="fixed", fixed_range=reversed_or_equal)
    with pytest.raises(SlotError, match="0 < near < far"):
        Depth.from_metric(np.ones((2, 2)), normalisation="fixed", fixed_range=(5, 1))
    with pytest.raises(SlotError, match="fixed_range"):
        Depth.from_inverse(raw, normalisation="fixed")
    with pytest.raises(SlotError, match="unknown normalisation"):
        Depth.from_inverse(raw, normalisation="zscore")  # type: ignore[arg-type]
    flat = Depth.from_inverse(np.ones((3, 3)))
    assert np.all(flat.values == 0.0)
    with pytest.raises(SlotError, match="no valid pixel"):
        Depth.from_inverse(np.full((2, 2), np.nan))
    with pytest.raises(SlotError, match="2-D"):
        Depth.from_inverse(np.zeros(4))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.zeros((4, 4), np.float64), "float32"),
        (np.zeros((4,), np.float32), "dimensions"),
        (np.full((2, 2), 1.5, np.float32), r"\[0, 1\]"),
        (np.full((2, 2), np.nan, np.float32), "NaN"),
        (np.zeros((0, 3), np.float32), "empty"),
        ([[0.5]], "numpy array"),
    ],
)
def test_depth_validates_on_construction(values: object, message: str) -> None:
    with pytest.raises(SlotError, match=message):
        Depth(values)  # type: ignore[arg-type]


def test_slots_are_read_only() -> None:
    depth = Depth(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        depth.values[0, 0] = 1.0
    image = Image(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError):
        image.pixels[0, 0, 0] = 1.0


def test_image_contract() -> None:
    with pytest.raises(SlotError, match="3 channels"):
        Image(np.zeros((2, 2, 4), np.float32))
    with pytest.raises(SlotError, match="alpha"):
        Image(np.zeros((2, 2, 3), np.float32), alpha=np.zeros((3, 3), np.float32))
    with pytest.raises(SlotError, match="colorspace"):
        Image(np.zeros((2, 2, 3), np.float32), colorspace="cmyk")  # type: ignore[arg-type]
    with pytest.raises(SlotError, match="bit_depth"):
        Image(np.zeros((2, 2, 3), np.float32), bit_depth=12)
    img = Image(np.full((4, 6, 3), 0.5, np.float32), np.ones((4, 6), np.float32))
    assert img.size == (4, 6)
    out = img.with_pixels(np.full((4, 6, 3), 2.0))
    assert out.pixels.max() == 1.0 and out.alpha is img.alpha


def test_mask_is_a_field_of_zero_and_one() -> None:
    mask = Mask(np.array([[True, False]]))
    assert mask.values.dtype == np.float32 and mask.values.tolist() == [[1.0, 0.0]]
    with pytest.raises(SlotError, match="only 0 and 1"):
        Mask(np.array([[0.5]], np.float32))
    assert Field.accepts_type(Mask) and Field.accepts_type(Depth)
    assert not Mask.accepts_type(Field) and not Image.accepts_type(Field)
    coerced = Field.coerce(Depth(np.zeros((2, 2), np.float32)))
    assert type(coerced) is Field
    with pytest.raises(SlotError, match="cannot use"):
        Image.coerce(coerced)


def test_segments_faces_normals_pointcloud_contracts() -> None:
    seg = Segments(np.array([[0, 1], [1, -1]], np.int32), ("sky", "person"))
    assert seg.mask_of(["person"]).values.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(SlotError, match="labels must lie"):
        Segments(np.array([[2]], np.int32), ("a",))
    with pytest.raises(SlotError, match="int32"):
        Segments(np.array([[0]], np.int64), ("a",))
    far = Face((0, 0, 10, 10), 0.9, depth=0.2)
    near = Face((20, 0, 10, 10), 0.8, ((1.0, 2.0),), depth=0.8)
    faces = Faces((far, near), (100, 200))
    assert faces.faces[0] is near, "faces are sorted near → far"
    assert faces.to_json()["faces"][0]["landmarks"] == [[1.0, 2.0]]
    with pytest.raises(SlotError, match="unit length"):
        Normals(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(SlotError, match=r"\(H, W, 3\)"):
        Normals(np.zeros((2, 2), np.float32))
    flat = np.zeros((2, 2, 3), np.float32)
    flat[..., 2] = 1
    assert Normals(flat).to_rgb()[0, 0].tolist() == [0.5, 0.5, 1.0]
    big = np.zeros((600, 700, 3), np.float32)  # checked in bands: the last band counts too
    big[..., 2] = 1
    Normals(big)
    for bad, message in ((np.nan, "NaN or infinite"), (np.inf, "NaN or infinite"), (0.5, "unit")):
        broken = big.copy()
        broken[-1, -1, 0] = bad
        with pytest.raises(SlotError, match=message):
            Normals(broken)
    with pytest.raises(SlotError, match="colors"):
        PointCloud(np.zeros((3, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(SlotError, match="NaN"):
        PointCloud(np.full((1, 3), np.nan, np.float32), np.zeros((1, 3), np.float32))


def _examples() -> list[object]:
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(3, 4, 3)).astype(np.float32)
    unit /= np.linalg.norm(unit, axis=2, keepdims=True)
    return [
        Image(
            rng.random((3, 4, 3), dtype=np.float32),
            rng.random((3, 4), dtype=np.float32),
            "linear",
            16,
        ),
        Depth.from_metric(rng.random((3, 4)) + 1),
        Field(rng.random((3, 4), dtype=np.float32)),
        Mask(rng.random((3, 4)) > 0.5),
        Segments(rng.integers(-1, 3, (3, 4)).astype(np.int32), ("a", "b", "c")),
        Faces((Face((1, 2, 3, 4), 0.5, ((1.0, 1.0),), 0.3),), (3, 4)),
        Normals(unit),
        PointCloud(rng.random((5, 3), dtype=np.float32), rng.random((5, 3), dtype=np.float32)),
        Files(("/tmp/x.png",), ("file:abc",)),
    ]


@pytest.mark.parametrize("slot", _examples(), ids=lambda s: type(s).__name__)
def test_every_slot_round_trips_through_the_cache_encoding(slot: object) -> None:
    back = read_entry(entry_bytes(slot))  # type: ignore[arg-type]
    assert type(back) is type(slot)
    a_arrays, a_meta = slot.to_arrays()  # type: ignore[attr-defined]
    b_arrays, b_meta = back.to_arrays()
    assert a_meta == b_meta
    assert a_arrays.keys() == b_arrays.keys()
    for k in a_arrays:
        np.testing.assert_array_equal(a_arrays[k], b_arrays[k])
    assert type(slot).__name__ in SLOT_TYPES


@pytest.mark.parametrize("slot", _examples()[:7], ids=lambda s: type(s).__name__)
def test_resized_keeps_type_and_contract(slot: object) -> None:
    small = slot.resized(2, 3)  # type: ignore[attr-defined]
    assert type(small) is type(slot)
    assert small.size == (2, 3)


def test_a_depth_read_as_a_field_shares_its_checked_values() -> None:
    """Depth.values met the Field contract when the Depth was made: the Field an input
    coerces it to is the same array, not a scanned copy (a 45 MP depth per knob step)."""
    depth = Depth(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    field = Field.coerce(depth)
    assert type(field) is Field and field.values is depth.values
    assert not field.values.flags.writeable
