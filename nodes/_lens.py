"""Depth of field by layered gather (``modulate.isolate``), band by band.

``coc`` is the signed circle of confusion in [-1, 1] (negative = behind the focus,
positive = in front of it); a pixel's blur radius is ``|coc| · max_radius`` pixels.

The CoC range is split into 2·N + 1 layers; each pixel's weight is shared between the two
nearest layers (a tent), so receding surfaces blur smoothly. Each layer is premultiplied
by its weights and blurred with its own disc (on a copy downscaled by a power of two, so
big radii cost little); layers are composited back to front with "over" and the result is
divided by the total coverage.

No halo, by construction: the sharp focus layer is cut out at full resolution, so its
colour never enters a blurred layer (the background beside a subject is normalised by its
own coverage), and it covers its own pixels fully (the blurred background never smears
over it). Only the split among the *blurred* layers runs on downscaled copies (a 2^k block
straddling two blurred layers is shared between them by its mean depth), which nothing can
see after their blur. Over is associative, so each side's layers composite among
themselves at low resolution.

Two passes touch the full frame, a band of rows at a time (``gather``: cut the focus layer
out and halve what is left; ``composite``: upsample each side's result and lay it over the
sharp pixels, by each pixel's blurred share, which the gather keeps); everything between
runs on the half-size and smaller copies. The per-pixel steps are compiled loops
(``nodes._lens_kernel``); the blurs, the deeper halvings and the upsampling are OpenCV's,
band by band (``nodes._resample``). The numbers are those of the full-frame implementation
it replaced (isolate version 2/3, its smallest copy 1/64 since version 4) to float
rounding: the first halving sums with ``cv2.resize``'s INTER_AREA weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Image

from ._clamps import at_least
from ._pixels import bcast, to_light
from ._resample import area_taps, cv_resize, halved_rows, resize_rows
from ._strips import band_rows, new_frame

F32 = NDArray[np.float32]
Rows = Callable[[int, int], F32]

#: Layers on each side of the focus plane (7 in all): enough for smooth transitions on
#: receding surfaces, few enough for < 100 ms at 1080p.
LAYERS_PER_SIDE = 3
#: A layer blurs on a copy downscaled by a power of two that keeps its radius ≥ this.
_MIN_LOW_RES_RADIUS = 2.0
#: The smallest copy: 1/64. Version 3 stopped at 1/16, so on a 33 MP photo the widest
#: layers blurred a 13-px disc there (their cost per pixel grew with the photo); now
#: every layer's disc stays 2-3 px wide at its level, as it does at 1080p.
_MAX_LEVEL = 6
#: Rows a band of the defocused frame spans at least (``render``'s ``min_rows``). Its
#: composite upsamples layers kept at 1/16 size and below, reading a row either side of
#: the ones a band needs there, and each band makes ~30 OpenCV/numpy calls: at an 8K
#: frame's usual 17 rows those margins and calls outweighed the work. Measured paired at
#: 7680x4320 over six runs: 64 rows 0.81-1.06x the time of 17, median 0.86 (128 and 256
#: no better); 0.94x at 3840x2160; at 1080p bands are 68 rows anyway. Same output to
#: float rounding (1.8e-7).
MIN_BAND_ROWS = 64


def disc_kernel(radius: float) -> F32:
    """Anti-aliased flat disc (a lens's bokeh), normalised to sum 1."""
    r = max(float(radius), 0.5)
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    k = np.clip(r + 0.5 - np.sqrt(xx * xx + yy * yy), 0.0, 1.0).astype(np.float32)
    return k / k.sum()


def halve(values: F32) -> F32:
    """Half size (odd sizes round up), area-averaged."""
    import cv2

    h, w = values.shape[:2]
    return np.asarray(cv_resize(values, ((w + 1) // 2, (h + 1) // 2), cv2.INTER_AREA))


def _resize(values: F32, size: tuple[int, int]) -> F32:
    import cv2

    h, w = size
    return cv_resize(values, (w, h), cv2.INTER_LINEAR)


@dataclass(frozen=True)
class Side:
    """One side's blurred layers composited at a low resolution: the colour normalised by
    its coverage (a plain colour, not premultiplied) and the coverage."""

    colour: F32
    coverage: F32


@dataclass(frozen=True)
class Gathered:
    """What the blurred layers gathered behind (``far``) and in front of the focus."""

    blurred: bool  # False: every pixel is in the focus layer, nothing to composite
    rest: F32  # (H, W): each pixel's share in the blurred layers, min(|coc|·N, 1)
    far: Side | None = None
    near: Side | None = None


def _layer_level(radius: float) -> int:
    """The pyramid level a layer of this blur radius (full-size pixels) is blurred at: a
    copy downscaled by 2^level that keeps the radius ≥ 2 px (level 1 = half size)."""
    level = 1
    while level < _MAX_LEVEL and radius / 2 ** (level + 1) >= _MIN_LOW_RES_RADIUS:
        level += 1
    return level


def _side(
    pyramid: list[tuple[F32, F32] | None],
    sizes: list[tuple[int, int]],
    behind: bool,
    max_radius: float,
) -> Side | None:
    """One side's layers from its pyramid: per level (1 = half size), the premultiplied
    RGBA of this side's share of the blurred layers and its coverage-weighted layer index
    (None for the levels no layer uses). ``sizes[k]`` is level k's size. (Each layer's
    share, the "over" and the final division are compiled loops, ``nodes._lens_kernel``:
    one pass each where OpenCV took five.)"""
    import cv2

    from ._lens_kernel import layer, over, unpremultiply

    n = LAYERS_PER_SIDE
    acc: F32 | None = None
    acc_level = _MAX_LEVEL
    order = range(0, n) if behind else range(2 * n, n, -1)  # outermost first
    for i in order:
        radius = abs(i - n) / n * max_radius
        level = _layer_level(radius)
        found = pyramid[level - 1]
        if found is None:
            continue
        this, peak = layer(*found, i, behind, n)
        if peak <= 0.0:
            continue
        r_low = radius / 2**level
        if r_low >= 0.25:
            this = np.asarray(
                cv2.filter2D(this, -1, disc_kernel(r_low), borderType=cv2.BORDER_REFLECT)
            )
        if acc is None:
            acc, acc_level = this, level
            continue
        if level < acc_level:
            acc, acc_level = _resize(acc, sizes[level]), level
        # behind the focus each nearer layer goes over; in front, each farther under
        acc = over(this, acc) if behind else over(acc, this)
    if acc is None:
        return None
    return Side(*unpremultiply(acc))


def gather(colour: Rows, coc: Rows, shape: tuple[int, int], max_radius: float) -> Gathered:
    """Cut the focus layer out of ``colour`` (rows of an (H, W, 3) frame; ``coc`` gives
    the same rows of the circle of confusion) and blur the rest, layer by layer, at half
    size and below. ``max_radius`` is in full-size pixels.

    The pyramid runs band by band from the full-size rows down to the finest level a layer
    uses (a big radius on a big photo: 1/16), and only that level and the coarser ones are
    kept whole; per side it holds the premultiplied RGBA of the side's share of the half-size
    colour and its coverage-weighted layer index (10 channels for both sides).

    Each pixel's share in the blurred layers is kept whole (``Gathered.rest``, a third of
    an RGB frame) for the composite pass, which would otherwise compute the circle of
    confusion again."""
    n = LAYERS_PER_SIDE
    peaks = [0.0, 0.0, 0.0]  # of the far and near coverage and the share at half size
    rest_frame = new_frame(*shape)
    half = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    row_taps, col_taps = area_taps(shape[0], half[0]), area_taps(shape[1], half[1])
    odd = shape[0] % 2 == 1 or shape[1] % 2 == 1  # (not OpenCV's exact 2x2 average)

    def sides(top: int, bottom: int) -> list[F32]:
        """Half-size rows of each side's premultiplied RGBA, and of each side's
        coverage-weighted layer index (far, near), from the full-size rows they average
        (``nodes._lens_kernel``); the full-size shares go into ``rest_frame``."""
        from ._lens_kernel import half_sides  # (numba: imported on first use)

        lo, hi = row_taps.span(top, bottom)
        taps = None
        if odd:
            taps = (row_taps.index[top:bottom] - lo, row_taps.weight[top:bottom])
            taps += (col_taps.index, col_taps.weight)
        outs, found = half_sides(colour(lo, hi), coc(lo, hi), n, rest_frame[lo:hi], taps)
        peaks[:] = [max(a, float(b)) for a, b in zip(peaks, found, strict=True)]
        return outs

    used = [_layer_level(abs(i - n) / n * max_radius) for i in range(2 * n + 1) if i != n]
    first, last = min(used), max(used)
    rows_at, size = sides, half
    for _ in range(first - 1):
        rows_at, size = halved_rows(rows_at, size)
    kept = [np.empty(s, np.float32) for s in ((*size, 4), (*size, 4), size, size)]
    step = max(1, band_rows(shape[1]) >> first)  # a band of full-size rows per band
    for top in range(0, size[0], step):
        for whole, part in zip(kept, rows_at(top, min(top + step, size[0])), strict=True):
            whole[top : top + step] = part
    if peaks[2] <= 0.0:  # every pixel is in the focus layer
        return Gathered(False, rest_frame)
    levels: list[list[F32] | None] = [None] * (first - 1) + [kept]
    while len(levels) < last:  # (no layer reads a coarser level)
        levels.append([halve(a) for a in levels[-1] or []])
    sizes = [shape]
    for _ in range(_MAX_LEVEL):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    found = []
    for k, behind in ((0, True), (1, False)):
        if peaks[k] < 1e-6:
            found.append(None)
            continue
        pyramid = [None if a is None else (a[k], a[2 + k]) for a in levels]
        found.append(_side(pyramid, sizes, behind, max_radius))
    return Gathered(True, rest_frame, found[0], found[1])


def composite(
    colour: F32, gathered: Gathered, shape: tuple[int, int], top: int, bottom: int
) -> F32:
    """Rows [top, bottom) of the defocused frame: ``colour`` (those rows, sharp) with the
    gathered sides upsampled and laid over it: focus over far (a lerp from the sharp pixel
    to the far colour by the far layers' share of the coverage, the focus layer having
    1 − rest), then near over that (``nodes._lens_kernel.lay_over``)."""
    if not gathered.blurred:
        return colour
    from ._lens_kernel import lay_over

    def rows(side: Side | None) -> tuple[F32, F32] | None:
        if side is None:
            return None
        return (
            resize_rows(side.colour, shape, top, bottom),
            resize_rows(side.coverage, shape, top, bottom),
        )

    return lay_over(colour, gathered.rest[top:bottom], rows(gathered.far), rows(gathered.near))


def defocus(image: Image, coc: Rows, shape: tuple[int, int], radius: float) -> Rows:
    """Rows of ``image`` defocused by ``coc`` (rows of the signed circle of confusion) in
    linear-ish light (``nodes._pixels.to_light``; the caller takes them back), after one
    gather over the frame. With alpha, only visible pixels are gathered."""
    import cv2

    def light(top: int, bottom: int) -> F32:
        return to_light(image, top, bottom)

    alpha = image.alpha
    if alpha is None or float(alpha.min()) >= 1.0:  # nothing transparent
        gathered = gather(light, coc, shape, radius)

        def opaque(top: int, bottom: int) -> F32:
            return composite(light(top, bottom), gathered, shape, top, bottom)

        return opaque

    # Gather alpha-weighted: the colour of transparent pixels (often black) must not bleed
    # into the visible ones. The gather is linear in the colour, so blurring premultiplied
    # colour and alpha alike and dividing gives the weighted mean (cut-outs cost ~1.5x).
    def alpha3(top: int, bottom: int) -> F32:
        return bcast(np.ascontiguousarray(alpha[top:bottom]), 3)

    def premult(top: int, bottom: int) -> F32:
        return np.asarray(cv2.multiply(light(top, bottom), alpha3(top, bottom)))

    colours = gather(premult, coc, shape, radius)
    covers = gather(alpha3, coc, shape, radius)

    def cut_out(top: int, bottom: int) -> F32:
        lit, a3 = light(top, bottom), alpha3(top, bottom)
        summed = composite(np.asarray(cv2.multiply(lit, a3)), colours, shape, top, bottom)
        cover = composite(a3, covers, shape, top, bottom)
        out = np.asarray(cv2.divide(summed, at_least(cover, 1e-6)))
        return np.where(cover > 1e-4, out, lit)  # nothing visible gathered here

    return cut_out
