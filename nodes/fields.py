"""Fields: continuous "how much" maps (float32, [0, 1]) derived from depth and masks.

Radius knobs are in pixels of a frame whose short side is 1080 (see ``nodes._filters``),
so a preview proxy and the full-size render look alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Depth, Field, GatewayError, Help, Image, Picks, Range, Slot, node

from ._clamps import at_most
from ._filters import guided_rows, luminance, scaled_radius, smoothstep
from ._resample import BandedGaussian
from ._strips import bands, halo_span, image_rows, new_frame, rows_for_halo

F32 = NDArray[np.float32]


@node("field.remap", outputs={"field": Field})
def remap(
    source: Field,
    *,
    band_centre: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("With a band width > 0: the value that maps to 1"),
        Picks("source", spread="band_width"),
    ] = 0.5,
    band_width: Annotated[
        float, Range(0, 1, 0.01), Help("0 = off; else a triangle peak of this half-width")
    ] = 0.0,
    low: Annotated[float, Range(0, 1, 0.01), Help("Values at or below map to 0")] = 0.0,
    high: Annotated[float, Range(0, 1, 0.01), Help("Values at or above map to 1")] = 1.0,
    gamma: Annotated[float, Range(0.05, 10, 0.01), Help("Curve: < 1 lifts, > 1 deepens")] = 1.0,
    gain: Annotated[float, Range(0, 8, 0.01), Help("Multiplier after the curve")] = 1.0,
    invert: Annotated[bool, Help("Flip the result (1 - v)")] = False,
) -> Field:
    """Reshape a field or depth map through a curve: band, levels, gamma, gain, invert."""
    import cv2

    values = source.values

    def band(top: int, bottom: int) -> NDArray[Any]:
        v = values[top:bottom]
        if band_width > 0:
            v = 1.0 - at_most(np.abs(v - band_centre) / max(band_width, 1e-6), 1.0)
        span = max(high - low, 1e-6)
        v = np.clip((v - low) / span, 0.0, 1.0)
        if gamma != 1.0:
            v = cv2.pow(v, gamma)  # (0.25-0.5x np.power's time)
        if gain != 1.0:
            v = np.clip(v * gain, 0.0, 1.0)
        if invert:
            v = 1.0 - v
        return v

    return _banded(values.shape, band)


# -- helpers ----------------------------------------------------------------------------
def _same_size(where: str, *slots: Slot | None) -> tuple[int, int]:
    """The common (H, W) of the connected raster inputs; a clear error when they differ."""
    sizes = [(s.type_name, s.size) for s in slots if s is not None and s.size is not None]
    first = sizes[0][1]
    for name, size in sizes[1:]:
        if size != first:
            raise GatewayError(
                f"{where}: input sizes differ ({sizes[0][0]} {first[1]}x{first[0]}, "
                f"{name} {size[1]}x{size[0]}); connect rasters of the same photo"
            )
    assert first is not None
    return first


def _banded(
    shape: tuple[int, ...], band: Callable[[int, int], NDArray[Any]], *, min_rows: int = 1
) -> Field:
    """A Field of ``shape`` whose rows [top, bottom) are ``band(top, bottom)`` clipped to
    [0, 1], made a band of rows at a time (``nodes._strips``): the output frame and
    band-sized temporaries, at any resolution."""
    h, w = int(shape[0]), int(shape[1])
    out = new_frame(h, w)
    for top, bottom in bands(h, w, min_rows=min_rows):
        np.clip(band(top, bottom), 0.0, 1.0, out=out[top:bottom])
    return Field(out)


# -- from depth -------------------------------------------------------------------------
@node("field.from_depth", outputs={"field": Field})
def from_depth(
    depth: Depth | Field,
    *,
    shape: Annotated[
        Literal["decay", "band", "invert"],
        Help(
            "decay: 1 at the focus depth, fading with distance from it; band: 1 inside a "
            "depth band with soft shoulders, 0 outside; invert: 1 - depth (1 = farthest)"
        ),
    ] = "decay",
    focus: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("decay: the depth (1 = nearest, 0 = farthest) where the field is 1"),
        Picks("depth"),
    ] = 0.5,
    falloff: Annotated[
        float,
        Range(0.005, 1, 0.005),
        Help("decay: depth distance from the focus at which the field has halved"),
    ] = 0.15,
    centre: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("band: the depth at the middle of the band"),
        Picks("depth", spread="width"),
    ] = 0.5,
    width: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("band: half-width of the flat top (field = 1 within centre ± width)"),
    ] = 0.1,
    softness: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("band: length of the soft shoulder beyond the width (0 beyond width + softness)"),
    ] = 0.1,
) -> Field:
    """Shape a depth map into a field: decay from a focus depth, a depth band, or invert.

    Depth is inverse depth (1 = nearest), so "depth distance" is measured in those units:
    equal steps are equal steps of disparity, finer near the camera than far away."""
    import cv2

    d = depth.values
    rate = np.float32(np.log(2.0) / falloff)

    def band(top: int, bottom: int) -> NDArray[Any]:
        rows = d[top:bottom]
        if shape == "invert":
            return 1.0 - rows
        if shape == "band":
            dist = np.abs(rows - np.float32(centre))
            return 1.0 - smoothstep(width, width + softness, dist)
        # decay: exponential, so it is 1 exactly at the focus and strictly falls away from it
        return cv2.exp(-rate * np.abs(rows - np.float32(focus)))  # (0.25x np.exp's time)

    return _banded(d.shape, band)


# -- combine ----------------------------------------------------------------------------
@node("field.combine", outputs={"field": Field})
def combine(
    a: Field,
    b: Field,
    factor: Field | None = None,
    *,
    op: Annotated[
        Literal["multiply", "max", "min", "screen", "lerp"],
        Help(
            "multiply: a·b (both must agree); max / min: union / intersection; "
            "screen: 1-(1-a)(1-b) (a soft union); lerp: from a to b by t or the factor field"
        ),
    ] = "multiply",
    t: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("lerp: 0 = a, 1 = b (ignored when a factor field is connected)"),
    ] = 0.5,
) -> Field:
    """Combine two fields (or depth maps / masks) pixel by pixel."""
    _same_size("field.combine", a, b, factor)
    va, vb = a.values, b.values

    def band(top: int, bottom: int) -> NDArray[Any]:
        ra, rb = va[top:bottom], vb[top:bottom]
        if op == "multiply":
            return ra * rb
        if op == "max":
            return np.maximum(ra, rb)
        if op == "min":
            return np.minimum(ra, rb)
        if op == "screen":
            return 1.0 - (1.0 - ra) * (1.0 - rb)
        k = factor.values[top:bottom] if factor is not None else np.float32(t)
        return ra + (rb - ra) * k

    return _banded(va.shape, band)


# -- blur -------------------------------------------------------------------------------
# version 2: blurs past sigma 6 count the upsampling's own blur (nodes._resample.blur_plan)
@node("field.blur", outputs={"field": Field}, version=2)
def blur(
    source: Field,
    guide: Image | None = None,
    *,
    radius: Annotated[
        float,
        Range(0, 200, 0.5),
        Help(
            "Blur radius in pixels of a 1080-pixel-high frame (scaled to the real size, so "
            "previews match renders); about two standard deviations of the Gaussian"
        ),
    ] = 12.0,
    edge_preserving: Annotated[
        bool,
        Help(
            "Do not blur across edges: a guided filter follows the edges of the guide "
            "image (or of the field itself when no image is connected)"
        ),
    ] = False,
    edge_threshold: Annotated[
        float,
        Range(0.001, 0.5, 0.001),
        Help(
            "Edge-preserving: how strong a brightness step must be to stop the blur. Lower "
            "keeps fainter edges but can print fine photo texture into the field; raise it "
            "if stripes or patterns appear"
        ),
    ] = 0.1,
) -> Field:
    """Soften a field, optionally keeping the photo's edges (guided filter)."""
    _same_size("field.blur", source, guide)
    v = source.values
    r = scaled_radius(radius, v.shape)
    if r < 0.1:
        return Field(v)
    shape = (int(v.shape[0]), int(v.shape[1]))

    def field_rows(top: int, bottom: int) -> F32:
        return v[top:bottom]

    if not edge_preserving:
        blurred = BandedGaussian(field_rows, shape, r / 2.0)
        return _banded(shape, blurred.rows, min_rows=rows_for_halo(blurred.reach))

    def guide_rows(top: int, bottom: int) -> F32:
        return luminance(image_rows(guide, top, bottom)) if guide is not None else v[top:bottom]

    # eps is a variance: the threshold is a brightness step, so square it.
    filtered = guided_rows(guide_rows, field_rows, shape, r, edge_threshold**2)
    return _banded(shape, filtered, min_rows=rows_for_halo(2 * max(1, round(r)) + 1))


# -- from mask --------------------------------------------------------------------------
@node("field.from_mask", outputs={"field": Field})
def from_mask(
    mask: Field,
    *,
    feather: Annotated[
        float,
        Range(0, 200, 0.5),
        Help(
            "Width of the soft edge in pixels of a 1080-pixel-high frame: the field ramps "
            "from 0 to 1 over this distance, centred on the (grown) mask edge"
        ),
    ] = 10.0,
    grow: Annotated[
        float,
        Range(-200, 200, 0.5),
        Help("Move the edge outwards (> 0) or inwards (< 0), in 1080-frame pixels"),
    ] = 0.0,
) -> Field:
    """Turn a mask into a feathered field (signed distance to the edge, smoothed).

    Soft inputs are thresholded at 0.5 first; the ramp follows the true Euclidean
    distance to the edge, so it is monotone across it and the same width everywhere."""
    import cv2

    inside = np.asarray(mask.values) >= 0.5
    if inside.all() or not inside.any():
        return Field(inside.astype(np.float32))
    shape = inside.shape
    h = shape[0]
    grow_px = np.float32(scaled_radius(grow, shape))
    half = scaled_radius(feather, shape) / 2.0
    # A band reads the rows within the distances that still matter: beyond |grow| + half
    # from the edge the ramp is flat, so a nearer edge than that is all a pixel needs.
    halo = int(np.ceil(abs(float(grow_px)) + max(half, 0.5))) + 2

    def band(top: int, bottom: int) -> NDArray[Any]:
        lo, hi = halo_span(top, bottom, halo, h)
        inside_u8 = inside[lo:hi].astype(np.uint8)
        # Distance of every inside pixel to the nearest outside pixel and vice versa; the
        # half-pixel offsets put the edge between the last inside and first outside pixel.
        d_in = cv2.distanceTransform(inside_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        d_out = cv2.distanceTransform(1 - inside_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        rows = slice(top - lo, bottom - lo)
        signed = np.where(inside[top:bottom], d_in[rows] - 0.5, 0.5 - d_out[rows])
        signed = signed.astype(np.float32) + grow_px
        if half < 0.5:
            return (signed > 0).astype(np.float32)
        return smoothstep(-half, half, signed)

    return _banded(shape, band, min_rows=rows_for_halo(halo))


# -- from point -------------------------------------------------------------------------
@node("field.from_point", outputs={"field": Field})
def from_point(
    size_of: Image | Field,
    *,
    x: Annotated[
        float, Range(0, 1, 0.005), Help("Horizontal position: 0 = left edge, 1 = right edge")
    ] = 0.5,
    y: Annotated[
        float, Range(0, 1, 0.005), Help("Vertical position: 0 = top edge, 1 = bottom edge")
    ] = 0.5,
    radius: Annotated[
        float,
        Range(0.005, 2, 0.005),
        Help("Where the field reaches 0, as a fraction of the image's short side"),
    ] = 0.35,
    falloff: Annotated[
        float,
        Range(0, 1, 0.01),
        Help(
            "Fraction of the radius over which it fades (0 = hard disc, 1 = fades from the "
            "point itself)"
        ),
    ] = 0.7,
) -> Field:
    """A radial field around a point in the picture: 1 at the point, fading to 0.

    Connect the image (or any field) whose size the field should have. Distances are in
    pixels, so the shape stays a circle on any aspect ratio."""
    h, w = size_of.size
    short = float(min(h, w))
    cols = (np.arange(w, dtype=np.float32) + 0.5 - np.float32(x * w)) / np.float32(short)
    rows = (np.arange(h, dtype=np.float32) + 0.5 - np.float32(y * h)) / np.float32(short)
    inner = radius * (1.0 - falloff)

    def band(top: int, bottom: int) -> NDArray[Any]:
        dist = np.sqrt(rows[top:bottom, None] ** 2 + cols[None, :] ** 2)
        return 1.0 - smoothstep(inner, radius, dist)

    return _banded((h, w), band)
