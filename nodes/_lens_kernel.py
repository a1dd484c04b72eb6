"""``modulate.isolate``'s per-pixel loops, compiled (numba).

Three steps of the layered gather (``nodes._lens``) are chains of a dozen OpenCV and numpy
passes, each with its own temporaries; compiled, each reads its inputs once and writes only
its results:

- ``half_sides``, the gather's first step: from full-size rows of the colour and of the
  circle of confusion to half-size rows of what the two sides blur. Per pixel its share in
  the blurred layers (kept whole for the composite), the premultiplied colour and the
  coverage-weighted layer index of that share; area-halved (even sizes: OpenCV's exact 2x2
  average, in registers; odd sizes: ``nodes._resample.area_taps``' weights); then split
  between the sides behind and in front of the focus by their coverage.
- ``layer``, ``over``, ``unpremultiply``: one side's layers at half size and below (each
  layer's tent share of the side, the "over", the final division); the disc blur between
  them stays OpenCV's ``filter2D``.
- ``lay_over``: the composite's two normalised "over"s at full size (the upsampling before
  it stays ``cv2.resize``'s, band by band).

Measured paired against the OpenCV chains (benchmarks/README.md, "isolate compiled"):
isolate in 0.71x the time at 1024x576, 0.81x at 1920x1080, 0.44x at 7680x4320, where the
chains' temporaries left the cache. Two threads split by rows were no faster on this
2-core machine: per band, handing the work over cost what the second core saved. The
sums are those of the chains to float rounding (tests/nodes/test_bands.py holds isolate
to its full-frame implementation within 1e-6, even and odd sizes), except where a side's
coverage is ~1e-6 at a subject matte's edge: its colour is a ratio of two tiny sums, and
there the output moved by up to 1.1e-5 (0.003/255) at 84 of 1.8 M values.

The kernels' types are fixed, so they compile when this module is first imported (7 s,
once per install; numba caches them on disk beside it) and load from that cache later
(0.6 s, after numba's own 0.5 s import). Nothing imports this module until isolate first
computes; the app imports it in the background at start-up (``gateway_studio.ui.warmup``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ._pixels import BLEND_SCALE  # (``blend``'s weights' scale: the same sums)

F32 = NDArray[np.float32]

#: numba's fast-math flags minus the no-NaN / no-infinity assumptions: sums may be
#: reordered and vectorised (float rounding), nothing else changes.
_FAST = {"nsz", "contract", "afn", "reassoc"}
_OPTIONS = {"cache": True, "nogil": True, "fastmath": _FAST}
_compiled = njit(inline="always", **_OPTIONS)
# The kernels' exact types, compiled when this module is imported (or loaded from numba's
# cache: 0.6 s), not on a knob change; other types are refused, not compiled anew.
# Images are C-ordered float32, taps int64 indices and float32 weights.
_IMAGE, _PLANE, _INDEX = "float32[:, :, ::1]", "float32[:, ::1]", "int64[:, ::1]"
_SIDES = f"{_IMAGE}, {_IMAGE}, {_PLANE}, {_PLANE}, float32[::1]"  # far, near, indices, peaks
_BY_TWO = f"void({_IMAGE}, {_PLANE}, int64, {_PLANE}, {_SIDES})"
_BY_TAPS = (
    f"void({_IMAGE}, {_PLANE}, int64, {_INDEX}, {_PLANE}, {_INDEX}, {_PLANE}, {_PLANE}, {_SIDES})"
)


@_compiled
def _pixel(c: float, n: float) -> tuple[float, float, float]:
    """A pixel's share in the blurred layers r = min(|coc|·n, 1), whether it is behind
    the focus (1 or 0) and its reach r·|coc|·n (coverage × distance from the focus layer)."""
    d = abs(c) * n
    r = min(max(d, np.float32(0.0)), np.float32(1.0))
    return r, np.float32(1.0) if c < 0.0 else np.float32(0.0), d * r


@_compiled
def _split(
    sums: Any, far: F32, near: F32, index_far: F32, index_near: F32, o: int, j: int, n: float
) -> None:
    """Half-size pixel (o, j) from its averaged products ``sums`` [r·rgb, r, r·behind,
    reach, reach·behind]: the colour shared between the sides by coverage (premultiplied
    RGBA) and each side's coverage-weighted layer index."""
    total, behind, reach, reach_behind = sums[3], sums[4], sums[5], sums[6]
    front = max(total - behind, np.float32(0.0))
    covered = max(total, np.float32(1e-6))
    share_far, share_near = behind / covered, front / covered
    for k in range(4):
        far[o, j, k] = sums[k] * share_far
        near[o, j, k] = sums[k] * share_near
    index_far[o, j] = behind * n - reach_behind
    index_near[o, j] = front * n + (reach - reach_behind)


@_compiled
def _peak(top: F32, sums: Any) -> None:
    """Raise the running peaks [far coverage, near coverage, total share] to ``sums``'."""
    top[0] = max(top[0], sums[4])
    top[1] = max(top[1], sums[3] - sums[4])
    top[2] = max(top[2], sums[3])


@njit(_BY_TWO, **_OPTIONS)
def _halves_by_two(  # (flat arguments: numba types a tuple argument slowly, with the GIL)
    colour: F32,
    coc: F32,
    n: int,
    rest: F32,
    far: F32,
    near: F32,
    index_far: F32,
    index_near: F32,
    peaks: F32,
) -> None:
    """Output pixel (o, j) averages input pixels (2o..2o+1, 2j..2j+1): OpenCV's exact 2x
    INTER_AREA (even sizes)."""
    nf, quarter, zero = np.float32(n), np.float32(0.25), np.float32(0.0)
    top = np.zeros(3, np.float32)  # the running peaks
    sums = np.empty(7, np.float32)
    for o in range(far.shape[0]):
        for j in range(far.shape[1]):
            # seven running sums in registers (an array of them: 1.7x the time)
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = zero
            for y in range(2 * o, 2 * o + 2):
                for x in range(2 * j, 2 * j + 2):
                    r, behind, reach = _pixel(coc[y, x], nf)
                    rest[y, x] = r
                    s0 += colour[y, x, 0] * r
                    s1 += colour[y, x, 1] * r
                    s2 += colour[y, x, 2] * r
                    s3 += r
                    s4 += r * behind
                    s5 += reach
                    s6 += reach * behind
            sums[0], sums[1], sums[2], sums[3] = (
                s0 * quarter,
                s1 * quarter,
                s2 * quarter,
                s3 * quarter,
            )
            sums[4], sums[5], sums[6] = s4 * quarter, s5 * quarter, s6 * quarter
            _split(sums, far, near, index_far, index_near, o, j, nf)
            _peak(top, sums)
    peaks[:] = top


@njit(_BY_TAPS, **_OPTIONS)
def _halves_by_taps(
    colour: F32,
    coc: F32,
    n: int,
    row_index: NDArray[np.intp],
    row_weight: F32,
    col_index: NDArray[np.intp],
    col_weight: F32,
    rest: F32,
    far: F32,
    near: F32,
    index_far: F32,
    index_near: F32,
    peaks: F32,
) -> None:
    """Output row o sums input rows ``row_index[o]`` (weights ``row_weight[o]``, 0 =
    unused), and columns alike: INTER_AREA's weights at any size (odd sizes)."""
    nf = np.float32(n)
    prod = np.empty((coc.shape[1], 7), np.float32)
    acc = np.empty((col_index.shape[0], 7), np.float32)
    top = np.zeros(3, np.float32)
    for o in range(row_index.shape[0]):
        acc[:] = 0.0
        for t in range(row_index.shape[1]):
            wy = row_weight[o, t]
            if wy == 0.0:
                continue
            y = row_index[o, t]
            for x in range(coc.shape[1]):
                r, behind, reach = _pixel(coc[y, x], nf)
                rest[y, x] = r
                for k in range(3):
                    prod[x, k] = colour[y, x, k] * r
                prod[x, 3], prod[x, 4] = r, r * behind
                prod[x, 5], prod[x, 6] = reach, reach * behind
            for j in range(col_index.shape[0]):
                for s in range(col_index.shape[1]):
                    w = wy * col_weight[j, s]
                    if w != 0.0:
                        x = col_index[j, s]
                        for k in range(7):
                            acc[j, k] += w * prod[x, k]
        for j in range(col_index.shape[0]):
            _split(acc[j], far, near, index_far, index_near, o, j, nf)
            _peak(top, acc[j])
    peaks[:] = top


#: Row and column taps: (row index, row weight, column index, column weight), an
#: ``area_taps`` pair's arrays (rows relative to the first row passed).
Taps = tuple[NDArray[np.intp], F32, NDArray[np.intp], F32]


def half_sides(
    colour: F32, coc: F32, n: int, rest: F32, taps: Taps | None = None
) -> tuple[list[F32], list[float]]:
    """Half-size rows of [far RGBA, near RGBA, far index, near index] (premultiplied
    colours, coverage in alpha) from the full-size rows ``colour`` (R, W, 3) and ``coc``
    (R, W), averaged by ``taps``, or 2x2 (R and W even) without them. Writes each pixel's
    share in the blurred layers into ``rest`` (R, W). Returns the arrays and the peaks
    (the largest far coverage, near coverage and total share)."""
    colour, coc = np.ascontiguousarray(colour), np.ascontiguousarray(coc)
    if taps is None:
        rows, cols = coc.shape[0] // 2, coc.shape[1] // 2
    else:
        rows, cols = taps[0].shape[0], taps[2].shape[0]
    outs = [np.empty((rows, cols, 4), np.float32) for _ in range(2)]
    outs += [np.empty((rows, cols), np.float32) for _ in range(2)]
    peaks = np.zeros(3, np.float32)
    if taps is None:
        _halves_by_two(colour, coc, n, rest, *outs, peaks)
    else:
        _halves_by_taps(colour, coc, n, *taps, rest, *outs, peaks)
    return outs, [float(v) for v in peaks]


# -- one side's layers (``nodes._lens._side``), at half size and below -------------------
@njit(f"float32({_IMAGE}, {_PLANE}, int64, boolean, int64, {_IMAGE})", **_OPTIONS)
def _layer(premult: F32, weighted: F32, i: int, behind: bool, n: int, out: F32) -> float:
    """Layer ``i``'s share of this side: ``premult`` times the tent 1 − |index − i|
    (clipped to [0, 1]) of each pixel's layer index, its coverage-weighted index
    ``weighted`` over its coverage (clamped to this side's layers). Returns the tent's
    largest value (0: the layer is empty)."""
    low, high = (
        (np.float32(-np.inf), np.float32(n - 1))
        if behind
        else (np.float32(n + 1), np.float32(np.inf))
    )
    zero, one, peak = np.float32(0.0), np.float32(1.0), np.float32(0.0)
    for y in range(premult.shape[0]):
        for x in range(premult.shape[1]):
            index = weighted[y, x] / max(premult[y, x, 3], np.float32(1e-6))
            index = min(max(index, low), high)
            tent = min(max(one - abs(index - np.float32(i)), zero), one)
            peak = max(peak, tent)
            for k in range(4):
                out[y, x, k] = premult[y, x, k] * tent
    return peak


@njit(f"void({_IMAGE}, {_IMAGE}, {_IMAGE})", **_OPTIONS)
def _over(front: F32, back: F32, out: F32) -> None:
    """Premultiplied RGBA ``front`` over ``back``: front + back·(1 − front's alpha), into
    ``out`` (which may be ``back``)."""
    for y in range(front.shape[0]):
        for x in range(front.shape[1]):
            clear = np.float32(1.0) - front[y, x, 3]
            for k in range(4):
                out[y, x, k] = front[y, x, k] + back[y, x, k] * clear


@njit(f"void({_IMAGE}, {_IMAGE}, {_PLANE})", **_OPTIONS)
def _unpremultiply(rgba: F32, colour: F32, coverage: F32) -> None:
    """The colour of premultiplied RGBA (over its coverage, at least 1e-6) and the coverage."""
    for y in range(rgba.shape[0]):
        for x in range(rgba.shape[1]):
            a = rgba[y, x, 3]
            coverage[y, x] = a
            for k in range(3):
                colour[y, x, k] = rgba[y, x, k] / max(a, np.float32(1e-6))


def layer(premult: F32, weighted: F32, i: int, behind: bool, n: int) -> tuple[F32, float]:
    """Layer ``i`` of a side (``_layer``) as a new array, and its largest tent value."""
    out = np.empty(premult.shape, np.float32)
    peak = _layer(np.ascontiguousarray(premult), np.ascontiguousarray(weighted), i, behind, n, out)
    return out, float(peak)


def over(front: F32, back: F32) -> F32:
    """``front`` over ``back`` (premultiplied RGBA, same size), written into ``back`` (an
    array of the caller's own), which is returned."""
    _over(front, back, back)
    return back


def unpremultiply(rgba: F32) -> tuple[F32, F32]:
    """(colour, coverage) of premultiplied RGBA: its RGB over its alpha (≥ 1e-6), its alpha."""
    h, w = rgba.shape[:2]
    colour, coverage = np.empty((h, w, 3), np.float32), np.empty((h, w), np.float32)
    _unpremultiply(np.ascontiguousarray(rgba), colour, coverage)
    return colour, coverage


# -- the composite (``nodes._lens.composite``), full size ------------------------------


@_compiled
def _normalised_over(
    c0: float, c1: float, c2: float, side: F32, y: int, x: int, a: float, b: float
) -> tuple[float, float, float]:
    """(c·a + side[y, x]·b) / (a + b) per channel: ``nodes._pixels.blend``'s sums (its
    weight scale, and ``cv2.blendLinear``'s 1e-5 in the denominator)."""
    a, b = a * BLEND_SCALE, b * BLEND_SCALE
    d = np.float32(1.0) / (a + b + np.float32(1e-5))
    return (
        (c0 * a + side[y, x, 0] * b) * d,
        (c1 * a + side[y, x, 1] * b) * d,
        (c2 * a + side[y, x, 2] * b) * d,
    )


@njit(f"void({_IMAGE}, {_PLANE}, {_IMAGE}, {_PLANE}, {_IMAGE}, {_PLANE}, {_IMAGE})", **_OPTIONS)
def _lay_over(
    colour: F32,
    rest: F32,
    far: F32,
    far_cover: F32,
    near: F32,
    near_cover: F32,
    out: F32,
) -> None:
    """The sharp ``colour`` with the far side laid under it by its share of the coverage,
    then the near side over both: two normalised "over"s per pixel. A side of 0 rows is
    absent."""
    has_far, has_near = far.shape[0] > 0, near.shape[0] > 0
    one = np.float32(1.0)
    for y in range(colour.shape[0]):
        for x in range(colour.shape[1]):
            c0, c1, c2 = colour[y, x, 0], colour[y, x, 1], colour[y, x, 2]
            # the focus layer's coverage (the 1e-7 keeps the pixel itself where nothing at
            # all was gathered)
            sharp = (one - rest[y, x]) + np.float32(1e-7)
            cover = sharp
            if has_far:
                behind = rest[y, x] * far_cover[y, x]
                c0, c1, c2 = _normalised_over(c0, c1, c2, far, y, x, sharp, behind)
                cover = sharp + behind
            if has_near:
                front = near_cover[y, x]
                c0, c1, c2 = _normalised_over(c0, c1, c2, near, y, x, (one - front) * cover, front)
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = c0, c1, c2


_NONE = (np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32))


def lay_over(
    colour: F32, rest: F32, far: tuple[F32, F32] | None, near: tuple[F32, F32] | None
) -> F32:
    """``colour`` rows with the sides' rows (colour, coverage; upsampled to full size)
    composited over it (``_lay_over``), as a new array."""
    out = np.empty(colour.shape, np.float32)
    sides = [np.ascontiguousarray(a) for a in (*(far or _NONE), *(near or _NONE))]
    _lay_over(np.ascontiguousarray(colour), np.ascontiguousarray(rest), *sides, out)
    return out
