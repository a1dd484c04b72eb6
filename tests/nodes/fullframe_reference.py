"""The full-frame implementations that issue 11 replaced with band-by-band code.

Copied from the node modules as of commit 1763a0d (nodes/modulation.py, geometry.py,
fields.py), the computation verbatim; only the signatures are plain keyword arguments
and the node decorators are gone. tests/nodes/test_bands.py compares the banded nodes
with these on synthetic photos: the outputs must stay within 1/255 of today's at every
pixel (they agree to float rounding, ~2e-7). Helpers that did not change (luminance,
smoothstep, gaussian_blur, guided_filter, the disc kernel) come from the nodes.
Element-wise nodes kept their expressions row for row; test_bands.py checks them by
splitting the frame into many bands against one band.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Depth, GatewayError, Image, parse_color
from gateway_studio.engine.slots import srgb_encode
from nodes._filters import (
    gaussian_blur,
    gaussian_by_radius,
    guided_filter,
    luminance,
    pixel_scale,
    scaled_radius,
    smoothstep,
)
from nodes._lens import disc_kernel as _disc_kernel

F32 = NDArray[np.float32]
_LAYERS_PER_SIDE = 3
_MIN_LOW_RES_RADIUS = 2.0
_MAX_LEVEL = 6  # isolate version 4 (version 3: 4)


def _bcast(values: F32, channels: int) -> F32:
    """(H, W) → (H, W, C) copy; cv2 maths needs equal shapes (it does not broadcast)."""

    return np.asarray(cv2.merge([values] * channels))


#: Weights are scaled by this before ``cv2.blendLinear``, which adds 1e-5 to its
#: denominator: a power of two scales exactly and makes that term vanish in float32, so a
#: weight of exactly 0 or 1 returns the other input bit for bit.


_BLEND_SCALE = np.float32(2.0**17)


def _blend(a: F32, b: F32, weight_a: F32, weight_b: F32) -> F32:
    """(a·wa + b·wb) / (wa + wb) per pixel in one pass (``cv2.blendLinear``): a lerp, or a
    normalised "over" when the weights are coverages. 0 where both weights are 0."""

    return np.asarray(cv2.blendLinear(a, b, weight_a * _BLEND_SCALE, weight_b * _BLEND_SCALE))


def _lerp(a: F32, b: F32, weight: F32 | float) -> F32:
    """a + (b − a)·weight for (H, W, 3) images; ``weight`` is (H, W) or a scalar."""

    if isinstance(weight, float):
        return np.asarray(cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0))
    return _blend(a, b, 1.0 - weight, weight)


def _to_light(image: Image) -> F32:
    """Pixels in linear-ish light (see the module docstring)."""

    p = image.pixels
    return p.copy() if image.colorspace == "linear" else np.asarray(cv2.multiply(p, p))


def _from_light(image: Image, light: F32) -> F32:

    light = np.maximum(light, 0.0, out=light)
    return light if image.colorspace == "linear" else np.asarray(cv2.sqrt(light))


def _colour(value: str, image: Image) -> NDArray[np.float32]:
    """A '#rrggbb' knob as float32 RGB in the image's value space (sRGB or linear)."""
    rgb = np.asarray(parse_color(value), dtype=np.float32)
    return rgb * rgb if image.colorspace == "linear" else rgb


def _halve(values: F32) -> F32:

    h, w = values.shape[:2]
    return np.asarray(
        cv2.resize(values, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    )


def _resize(values: F32, size: tuple[int, int]) -> F32:

    h, w = size
    return np.asarray(cv2.resize(values, (w, h), interpolation=cv2.INTER_LINEAR))


def _over(front: F32, back: F32) -> F32:
    """Premultiplied RGBA ``front`` over ``back`` (same size): front + back·(1 − αf)."""

    cover = _bcast(1.0 - front[..., 3], 4)
    return np.asarray(cv2.add(front, cv2.multiply(back, cover)))


def _layered_defocus(light: F32, coc: F32, max_radius: float) -> F32:
    """Depth of field by layered gather (see nodes/_lens.py)."""

    h, w = coc.shape
    n = _LAYERS_PER_SIDE
    index = (coc + 1.0) * np.float32(n)  # layer index space: 0 (far) .. n (focus) .. 2n
    # weight each pixel gives to the blurred layers; the rest (1 - rest) is the focus layer
    rest = np.minimum(cv2.absdiff(index, float(n)), 1.0)
    if not rest.any():
        return light.copy()
    behind = (coc < 0.0).astype(np.float32)
    weighted_index = index * rest
    # The exact cut of the focus layer, at full size; everything blurred runs at half size.
    rgb1 = _halve(np.asarray(cv2.multiply(light, _bcast(rest, 3))))
    a1, af1 = _halve(rest), _halve(rest * behind)
    i1, if1 = _halve(weighted_index), _halve(weighted_index * behind)
    sizes = [(h, w)]
    for _ in range(_MAX_LEVEL):
        ph, pw = sizes[-1]
        sizes.append(((ph + 1) // 2, (pw + 1) // 2))

    def side(alpha: F32, weighted_index: F32, behind: bool) -> tuple[F32, F32] | None:
        """(colour, coverage) of one side's blurred layers at full size; the colour is
        normalised (divided by its coverage), so it is a plain colour, not premultiplied."""
        if float(alpha.max()) < 1e-6:
            return None
        # the half-size colour is shared between the sides in proportion to coverage
        share = alpha / np.maximum(a1, 1e-6)
        rgb = np.asarray(cv2.multiply(rgb1, _bcast(share, 3)))
        rgba = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA))
        rgba[..., 3] = alpha
        pyramid = [(rgba, weighted_index)]
        while len(pyramid) < _MAX_LEVEL:
            pyramid.append((_halve(pyramid[-1][0]), _halve(pyramid[-1][1])))
        acc: F32 | None = None
        acc_level = _MAX_LEVEL
        order = range(0, n) if behind else range(2 * n, n, -1)  # outermost first
        for i in order:
            radius = abs(i - n) / n * max_radius
            level = 1
            while level < _MAX_LEVEL and radius / 2 ** (level + 1) >= _MIN_LOW_RES_RADIUS:
                level += 1
            premult, wi = pyramid[level - 1]
            idx = wi / np.maximum(premult[..., 3], 1e-6)
            idx = np.minimum(idx, n - 1.0) if behind else np.maximum(idx, n + 1.0)
            tent = np.maximum(1.0 - cv2.absdiff(idx, float(i)), 0.0)
            if float(tent.max()) <= 0.0:
                continue
            layer = np.asarray(cv2.multiply(premult, _bcast(tent, 4)))
            r_low = radius / 2**level
            if r_low >= 0.25:
                layer = np.asarray(
                    cv2.filter2D(layer, -1, _disc_kernel(r_low), borderType=cv2.BORDER_REFLECT)
                )
            if acc is None:
                acc, acc_level = layer, level
                continue
            if level < acc_level:
                acc, acc_level = _resize(acc, sizes[level]), level
            # behind the focus each nearer layer goes over; in front, each farther under
            acc = _over(layer, acc) if behind else _over(acc, layer)
        if acc is None:
            return None
        coverage = np.ascontiguousarray(acc[..., 3])
        colour = cv2.divide(
            cv2.cvtColor(acc, cv2.COLOR_RGBA2RGB), _bcast(np.maximum(coverage, 1e-6), 3)
        )
        return _resize(np.asarray(colour), sizes[0]), _resize(coverage, sizes[0])

    far = side(af1, if1, behind=True)
    near = side(np.maximum(a1 - af1, 0.0), i1 - if1, behind=False)
    # focus over far: a lerp from the sharp pixel to the far colour by the far layers'
    # share of the coverage (the focus layer has coverage 1 - rest)
    # (blendLinear normalises by the summed weights; the 1e-7 keeps the pixel itself where
    # nothing at all was gathered)
    out, sharp = light, (1.0 - rest) + np.float32(1e-7)
    coverage = sharp
    if far is not None:
        far_cover = rest * far[1]
        out = _blend(light, far[0], sharp, far_cover)
        coverage = sharp + far_cover
    # near over that, likewise
    if near is not None:
        out = _blend(out, near[0], (1.0 - near[1]) * coverage, near[1])
    return np.asarray(out)


def _bloom(half: F32, radius: float) -> F32:
    """Sum of three Gaussians (radius/4, /2, /1, weights 1/2, 1/3, 1/6) of a half-size
    image: a tight core with a long soft tail, like a lens's glare, at near-constant cost
    (``gaussian_blur`` downscales further for the wide ones). ``radius`` is in full-size
    pixels; the result stays half-size."""

    acc = None
    for fraction, weight in ((0.25, 0.5), (0.5, 1 / 3), (1.0, 1 / 6)):
        sigma = radius * fraction * 0.25  # radius = 2 σ, halved for the half-size copy
        part = cv2.multiply(gaussian_blur(half, sigma), (weight, weight, weight, 0.0))
        acc = part if acc is None else cv2.add(acc, part)
    return np.asarray(acc)


# version 2: transparent pixels do not glow


def _pixelate(pixels: F32, cell: float) -> F32:

    h, w = pixels.shape[:2]
    c = max(cell, 1.0)
    small = cv2.resize(
        pixels,
        (max(1, round(w / c)), max(1, round(h / c))),
        interpolation=cv2.INTER_AREA,
    )
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))


def _hatch(shape: tuple[int, int], period: float, darkness: F32, slope: int) -> F32:
    """Ink coverage (0..1) of 45° strokes whose width grows with ``darkness`` (0..1).

    Strokes run along x + slope·y = const, ``period`` pixels apart (rounded so the pattern
    tiles); a stroke's half-width is darkness · period / 2, anti-aliased over a pixel."""

    h, w = shape
    step = max(round(period * np.sqrt(2.0)), 3)  # along x; perpendicular ≈ period
    t = np.arange(step, dtype=np.float32)
    phase = (t[None, :] + slope * t[:, None]) % step / step  # one tile
    # distance (px, perpendicular) to the stroke centre, negated: -(period/2 - |.|)
    dist = np.abs(phase - 0.5) * np.float32(step / np.sqrt(2.0))
    neg_edge = (dist - np.float32(step / np.sqrt(2.0) / 2)).astype(np.float32)
    tiled = np.tile(neg_edge, (h // step + 1, w // step + 1))[:h, :w]
    half_period = float(step / np.sqrt(2.0) / 2)
    ink = cv2.scaleAdd(darkness, half_period, np.ascontiguousarray(tiled))
    return np.clip(ink, 0.0, 1.0, out=ink)


def _mixed(image: Image, effect: F32, weight: F32 | float) -> F32:
    """The input pixels with ``effect`` blended in by ``weight``, clipped."""
    if isinstance(weight, float):
        if weight <= 0.0:
            return image.pixels
        if weight >= 1.0:
            return np.clip(effect, 0.0, 1.0)
    return np.clip(_lerp(image.pixels, effect, weight), 0.0, 1.0)


def _field_at(field: Any, image: Image, what: str) -> F32:
    return np.asarray(field.values, dtype=np.float32)


def isolate(
    image: Image,
    depth: Any,
    subject: Any = None,
    *,
    focus: float = 0.8,
    focus_range: float = 0.02,
    aperture: float = 4.0,
    max_radius: float = 24.0,
    mix: float = 1.0,
) -> F32:
    v = _field_at(depth, image, "the depth")
    radius = scaled_radius(max_radius, v.shape)
    if radius < 0.5 or aperture <= 0.0 or mix <= 0.0:
        return image.pixels
    offset = v - np.float32(focus)
    blur = np.clip((np.abs(offset) - np.float32(focus_range)) * np.float32(aperture), 0.0, 1.0)
    coc = np.copysign(blur, offset).astype(np.float32)
    if subject is not None:
        coc = coc * (1.0 - _field_at(subject, image, "the subject mask"))
    light = _to_light(image)
    if image.alpha is None or float(image.alpha.min()) >= 1.0:  # nothing transparent
        blurred = _layered_defocus(light, coc, radius)
    else:
        # Gather alpha-weighted: the colour of transparent pixels (often black) must not
        # bleed into the visible ones. The gather is linear in the colour, so blurring
        # premultiplied colour and alpha alike and dividing gives the weighted mean
        # (a second pass: cut-outs cost about 1.5x).
        alpha3 = _bcast(image.alpha, 3)
        premult = _layered_defocus(np.asarray(cv2.multiply(light, alpha3)), coc, radius)
        cover = _layered_defocus(alpha3, coc, radius)
        blurred = np.asarray(cv2.divide(premult, np.maximum(cover, np.float32(1e-6))))
        blurred = np.where(cover > 1e-4, blurred, light)  # nothing visible gathered here
    out = _from_light(image, blurred)
    return _mixed(image, out, float(mix))


def halo(
    image: Image,
    amount: Any,
    *,
    threshold: float = 0.6,
    radius: float = 60.0,
    intensity: float = 1.5,
    tint: str = "#ffe9cc",
    mix: float = 1.0,
) -> F32:
    if intensity <= 0.0 or mix <= 0.0:
        return image.pixels
    amount_v = _field_at(amount, image, "the amount field")
    h, w = amount_v.shape
    light = _to_light(image)
    knee = 0.1
    # which pixels glow, at full size (a one-pixel highlight counts), then everything
    # blurred runs at half size: the glow has no detail to lose
    luma = luminance(image.pixels)
    if image.colorspace == "linear":  # the threshold is on perceived (gamma) brightness
        luma = np.sqrt(luma)
    key = smoothstep(threshold - knee, threshold + knee, luma) * amount_v
    if image.alpha is not None:  # an invisible pixel is no highlight
        key = key * image.alpha
    emit = cv2.multiply(_halve(light), _bcast(_halve(key), 3))
    tint_rgb = np.asarray(parse_color(tint), dtype=np.float32) ** 2 * np.float32(intensity)
    glow = cv2.multiply(
        _bloom(np.asarray(emit), scaled_radius(radius, (h, w))), (*tint_rgb.tolist(), 0.0)
    )
    glow = cv2.resize(np.minimum(glow, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    # screen: 1 - (1 - a)(1 - b) = a + b - a·b
    light = cv2.subtract(cv2.add(light, glow), cv2.multiply(light, glow))
    out = _from_light(image, np.asarray(light))
    return _mixed(image, out, float(mix))


def drawing(
    image: Image,
    amount: Any,
    *,
    line_weight: float = 1.6,
    detail: float = 0.5,
    hatching: float = 0.6,
    paper: str = "#f5f0e6",
    ink: str = "#2d2f36",
    mix: float = 1.0,
) -> F32:
    weight = _field_at(amount, image, "the amount field") * np.float32(mix)
    if not weight.any():
        return image.pixels
    shape = weight.shape
    scale = pixel_scale(shape)
    # the marks follow perceived brightness: gamma-encode a linear image first
    src = image.pixels if image.colorspace == "srgb" else np.sqrt(image.pixels)
    grey = luminance(src)
    # pencil tone (colour dodge of the inverted blur): grey / blur(grey), deepened a little
    tone = cv2.divide(grey, np.maximum(gaussian_blur(grey, 10.0 * scale), 1e-3))
    tone = np.minimum(tone, 1.0, out=tone)
    tone = cv2.multiply(tone, tone)
    # ink lines: XDoG — a difference of Gaussians, positive on the dark side of an edge;
    # per colour channel (strongest wins) so edges between equally bright colours count
    sigma = max(line_weight * 0.5 * scale, 0.3)
    fine3 = cv2.GaussianBlur(src, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    coarse3 = cv2.GaussianBlur(src, (0, 0), sigma * 1.6, borderType=cv2.BORDER_REFLECT)
    dog3 = np.asarray(cv2.subtract(coarse3, fine3))
    # max over channels; cv2.reduce is ~20x faster than numpy's max(axis=2) here
    dog = cv2.reduce(dog3.reshape(-1, 3), 1, cv2.REDUCE_MAX).reshape(shape)
    fine = luminance(fine3)
    thr = 0.002 + 0.03 * (1.0 - detail)
    lines = cv2.multiply(cv2.subtract(dog, thr), 1.0 / (thr + 0.004))
    lines = np.clip(lines, 0.0, 1.0, out=lines)
    value = cv2.multiply(tone, 1.0 - lines)
    if hatching > 0.0:
        period = max(9.0 * scale, 3.0)
        dark = 1.0 - fine
        mid = (dark - 0.35) * np.float32(hatching / 0.5)
        mid = np.clip(mid, 0.0, 1.0, out=mid)
        deep = (dark - 0.6) * np.float32(hatching / 0.35)
        deep = np.clip(deep, 0.0, 1.0, out=deep)
        value = cv2.multiply(value, 1.0 - 0.7 * _hatch(shape, period, mid, 1))
        if deep.any():  # cross-hatching only where there are shadows
            value = cv2.multiply(value, 1.0 - 0.7 * _hatch(shape, period * 0.8, deep, -1))
    paper_rgb = _colour(paper, image)
    ink_rgb = _colour(ink, image)
    # sketch = ink + value·(paper - ink): one affine cv2.transform of the grey value
    colours = np.stack([paper_rgb - ink_rgb, ink_rgb], axis=1).astype(np.float32)  # 3x2
    sketch = np.asarray(cv2.transform(np.asarray(value)[..., None], colours))
    return _mixed(image, sketch, weight)


def normals(depth: Depth, *, strength: float = 4.0, smooth: float = 2.0) -> F32:
    d = depth.values
    r = scaled_radius(smooth, d.shape)
    if r >= 0.1:
        d = gaussian_by_radius(d, r)
    # Per-pixel slope scaled by the long side: the relief does not depend on resolution.
    k = np.float32(strength * max(d.shape) / 8.0)  # Sobel 3x3 sums 8 × the slope
    # Extend the border linearly (odd reflection): a plane keeps its slope up to the edge.
    padded = np.pad(d, 1, mode="reflect", reflect_type="odd") if min(d.shape) > 1 else d
    d_col = cv2.Sobel(padded, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    d_row = cv2.Sobel(padded, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    if padded is not d:
        d_col, d_row = d_col[1:-1, 1:-1], d_row[1:-1, 1:-1]
    # x = column (right); y = up = −row, so ∂h/∂y = −∂h/∂row and n_y = −∂h/∂y = +∂h/∂row.
    nx = -k * d_col
    ny = k * d_row
    nz = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)  # normalise (nx, ny, 1) plane by plane
    return np.asarray(cv2.merge([nx * nz, ny * nz, nz]))


def _distances(depth: Depth, near: float, far: float) -> tuple[np.ndarray, str]:
    """Distance per pixel and its unit: the depth's metres when both knobs are 0 and it
    is calibrated; else near/far pin depth 1 and 0 (relative 1 … 10 when both are 0)."""
    if near == 0.0 and far == 0.0:
        dist = depth.to_distance()
        return dist.values, "m" if dist.unit == "m" else "relative (nearest = 1)"
    if near <= 0.0 or far <= near:
        raise GatewayError(
            f"near ({near:g}) and far ({far:g}): set both, with far > near (or both 0 to "
            "use the depth's own metres when it has them)"
        )
    return depth.to_distance(near, far).values, "near/far units"


# version 3: no point where the depth has none; the depth's metres by default


def point_cloud(
    depth: Depth,
    image: Image | None = None,
    *,
    fov: float = 60.0,
    near: float = 0.0,
    far: float = 0.0,
    stride: int = 2,
    min_depth: float = 0.0,
    cut_edges: float = 0.0,
) -> tuple[F32, F32, str]:
    if image is not None and image.size != depth.size:
        raise GatewayError(
            f"image {image.size[1]}x{image.size[0]} and depth "
            f"{depth.size[1]}x{depth.size[0]} differ in size; connect the depth of this image"
        )
    dist_full, unit = _distances(depth, near, far)
    h, w = depth.size
    rows = np.arange(0, h, stride)
    cols = np.arange(0, w, stride)
    grid = np.ix_(rows, cols)
    d = depth.values[grid]
    keep = d >= np.float32(min_depth) if min_depth > 0 else np.ones(d.shape, dtype=bool)
    if depth.valid is not None:
        keep &= depth.valid[grid]
    if image is not None and image.alpha is not None:
        keep &= image.alpha[grid] >= 0.5
    if cut_edges > 0:
        # Relative jump to the 3x3 neighbours: (z_max - z_min) / z_min.
        box = np.ones((3, 3), np.uint8)
        jump = cv2.dilate(dist_full, box) / cv2.erode(dist_full, box) - 1.0
        keep &= jump[grid] <= cut_edges
    z = dist_full[grid][keep].astype(np.float64)
    f = 0.5 * w / np.tan(np.deg2rad(fov) / 2.0)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    u = (cc[keep] + 0.5 - w / 2.0) / f  # pixel centres, principal point at the centre
    v = (rr[keep] + 0.5 - h / 2.0) / f
    points = np.stack([u * z, -v * z, -z], axis=1).astype(np.float32)
    if image is not None:
        colors = image.pixels[np.ix_(rows, cols)][keep]
        if image.colorspace == "linear":  # PLY colours are display (sRGB) colours
            colors = srgb_encode(colors)
    else:
        colors = np.repeat(d[keep][:, None], 3, axis=1)
    return points, np.ascontiguousarray(colors, dtype=np.float32), unit


def _field(values: NDArray[Any]) -> F32:
    return np.clip(values, 0.0, 1.0).astype(np.float32, copy=False)


def blur(
    source: Any,
    guide: Image | None = None,
    *,
    radius: float = 12.0,
    edge_preserving: bool = False,
    edge_threshold: float = 0.1,
) -> F32:
    v = source.values
    r = scaled_radius(radius, v.shape)
    if r < 0.1:
        return v
    if not edge_preserving:
        return _field(gaussian_by_radius(v, r))
    g = luminance(guide.pixels) if guide is not None else v
    # eps is a variance: the threshold is a brightness step, so square it.
    return _field(guided_filter(g, v, r, edge_threshold**2))


def from_mask(mask: Any, *, feather: float = 10.0, grow: float = 0.0) -> F32:
    inside = np.asarray(mask.values) >= 0.5
    if inside.all() or not inside.any():
        return inside.astype(np.float32)
    shape = inside.shape
    inside_u8 = inside.astype(np.uint8)
    # Distance of every inside pixel to the nearest outside pixel and vice versa; the
    # half-pixel offsets put the edge between the last inside and first outside pixel.
    d_in = cv2.distanceTransform(inside_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - inside_u8, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    signed = np.where(inside, d_in - 0.5, 0.5 - d_out).astype(np.float32)
    signed += np.float32(scaled_radius(grow, shape))
    half = scaled_radius(feather, shape) / 2.0
    if half < 0.5:
        return (signed > 0).astype(np.float32)
    return _field(smoothstep(-half, half, signed))
