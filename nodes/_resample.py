"""Resampling and blurring a band of rows at a time, with OpenCV's full-frame results.

``cv2.resize`` is separable: each output row is a weighted sum of a few input rows that
were resampled along x alone. So the rows [top, bottom) of a resize need only the input
rows ``Taps.span(top, bottom)``: resize those along x with cv2 (the same weights as the
full-frame call) and sum them with OpenCV's own row weights (``area_taps`` is
``computeResizeAreaTab``, ``linear_taps`` the bilinear coordinate map). The result equals
the full-frame ``cv2.resize`` to float rounding (≤ 2e-7; the tests check it), at any
scale, odd sizes included.

``BandedGaussian`` is ``nodes._filters.gaussian_blur`` band by band: small sigmas blur
each band with the rows of halo the kernel reaches; large ones downscale once (band by
band), blur the small copy, and upsample each band from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from ._strips import band_rows, halo_span

F32 = NDArray[np.float32]
#: rows_fn(top, bottom) -> float32 rows [top, bottom) of a frame (a view or a new array).
Rows = Callable[[int, int], F32]

_AREA = 3  # cv2.INTER_AREA (cv2 itself is imported where it is used)
#: Above this sigma, blurs run on a downscaled copy (``blur_plan``: the same look, a
#: fraction of the cost); ``nodes._filters.gaussian_blur`` and ``BandedGaussian`` both
#: switch here. (Not lower for every node: ``geometry.normals`` amplifies its smoothing's
#: error by its relief gain, so its blur stays exact up to here; see benchmarks/README.)
DIRECT_SIGMA = 6.0
#: A wide blur's sigma at its downscaled level is at most this many of that level's pixels.
_LEVEL_SIGMA = 4.5


#: ``Taps.rows`` sums rows of at least this many values with OpenCV, a row at a time.
_ROW_LOOP_ELEMENTS = 4096


@dataclass(frozen=True)
class Taps:
    """For each output row, the input rows it sums and their weights (padded with 0)."""

    index: NDArray[np.intp]  # (out_rows, T)
    weight: F32  # (out_rows, T)

    def span(self, top: int, bottom: int) -> tuple[int, int]:
        """The input rows [lo, hi) that output rows [top, bottom) read."""
        used = self.index[top:bottom]
        return int(used.min()), int(used.max()) + 1

    def rows(self, src: F32, lo: int, top: int, bottom: int) -> F32:
        """Output rows [top, bottom) from ``src``, the input rows starting at row ``lo``
        (already resampled along x). Wide rows go a row at a time through OpenCV's
        weighted sums: 7-26x faster than numpy's gathered, broadcast products on 1920- to
        7680-px bands (benchmarks/README.md), the same sums to float rounding; short rows
        (low pyramid levels) stay with numpy, whose per-call cost is lower."""
        import cv2

        if src[0].size < _ROW_LOOP_ELEMENTS:
            return self._rows_numpy(src, lo, top, bottom)
        index = (self.index[top:bottom] - lo).tolist()
        weight = self.weight[top:bottom].tolist()
        out = np.empty((bottom - top, *src.shape[1:]), np.float32)
        for i, (taps, weights) in enumerate(zip(index, weight, strict=True)):
            used = [(t, w) for t, w in zip(taps, weights, strict=True) if w != 0.0]
            if not used:
                out[i] = 0.0
            elif len(used) == 1:
                np.multiply(src[used[0][0]], np.float32(used[0][1]), out=out[i])
            else:
                (a, wa), (b, wb) = used[0], used[1]
                cv2.addWeighted(src[a], wa, src[b], wb, 0.0, dst=out[i])
                for t, w in used[2:]:
                    cv2.scaleAdd(src[t], w, out[i], dst=out[i])
        return out

    def _rows_numpy(self, src: F32, lo: int, top: int, bottom: int) -> F32:
        index = self.index[top:bottom] - lo
        weight = self.weight[top:bottom]
        tail = (1,) * (src.ndim - 1)
        out = src[index[:, 0]] * weight[:, 0].reshape(-1, *tail)
        for t in range(1, index.shape[1]):
            out += src[index[:, t]] * weight[:, t].reshape(-1, *tail)
        return out


def _taps(rows: Sequence[Sequence[tuple[int, float]]]) -> Taps:
    width = max(len(r) for r in rows)
    index = np.zeros((len(rows), width), np.intp)
    weight = np.zeros((len(rows), width), np.float32)
    for i, r in enumerate(rows):
        index[i] = r[0][0]  # padding reads a row already read, with weight 0
        for t, (src, w) in enumerate(r):
            index[i, t], weight[i, t] = src, w
    return Taps(index, weight)


@lru_cache(maxsize=64)
def area_taps(src: int, dst: int) -> Taps:
    """``cv2.INTER_AREA``'s weights from ``src`` rows down to ``dst`` (computeResizeAreaTab)."""
    scale = src / dst
    rows = []
    for d in range(dst):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, src - f1)
        s2 = min(math.floor(f2), src - 1)
        s1 = min(math.ceil(f1), s2)
        r: list[tuple[int, float]] = []
        if s1 - f1 > 1e-3:
            r.append((s1 - 1, (s1 - f1) / cell))
        r.extend((s, 1.0 / cell) for s in range(s1, s2))
        if f2 - s2 > 1e-3:
            r.append((s2, min(min(f2 - s2, 1.0), cell) / cell))
        rows.append(r)
    return _taps(rows)


@lru_cache(maxsize=64)
def linear_taps(src: int, dst: int) -> Taps:
    """``cv2.INTER_LINEAR``'s weights from ``src`` rows to ``dst`` (pixel centres aligned,
    edges clamped)."""
    scale = src / dst
    rows = []
    for d in range(dst):
        f = (d + 0.5) * scale - 0.5
        s = math.floor(f)
        f -= s
        if s < 0:
            f, s = 0.0, 0
        if s >= src - 1:
            f, s = 0.0, src - 1
        rows.append([(s, 1.0 - f), (min(s + 1, src - 1), f)])
    return _taps(rows)


def _halving_three_channels(a: F32, size: tuple[int, int], interpolation: int) -> bool:
    return (
        interpolation == _AREA
        and a.ndim == 3
        and a.shape[2] == 3
        and (size[0] * 2, size[1] * 2) == (a.shape[1], a.shape[0])
    )


def cv_resize(a: F32, size: tuple[int, int], interpolation: int) -> F32:
    """``cv2.resize(a, size)`` (size = (w, h), as cv2 takes it) for any number of channels:
    cv2 resizes at most 4 at once outside its whole-ratio area path, so more are resized
    4 at a time (channels are independent: the same numbers)."""
    import cv2

    if _halving_three_channels(a, size, interpolation):
        # OpenCV's fast 2x area path takes 1 or 4 channels: widened to 4 and back, 3
        # channels cost 0.35x the time (the same sums to float rounding)
        wide = cv2.resize(cv2.cvtColor(a, cv2.COLOR_RGB2RGBA), size, interpolation=interpolation)
        return np.asarray(cv2.cvtColor(wide, cv2.COLOR_RGBA2RGB))
    if a.ndim < 3 or a.shape[2] <= 4:
        return np.asarray(cv2.resize(a, size, interpolation=interpolation))
    parts = [
        cv2.resize(a[..., k : k + 4], size, interpolation=interpolation)
        for k in range(0, a.shape[2], 4)
    ]
    return np.concatenate([p if p.ndim == 3 else p[..., None] for p in parts], axis=2)


def _along_x(rows: F32, width: int, interpolation: int) -> F32:

    if rows.shape[1] == width:
        return rows
    return cv_resize(rows, (width, rows.shape[0]), interpolation)


def _ratio(big: int, small: int) -> int:
    """big / small when it is a whole number, else 0."""
    r = big // small
    return r if r * small == big else 0


def resize_rows(
    src: F32, size: tuple[int, int], top: int, bottom: int, *, area: bool = False
) -> F32:
    """Rows [top, bottom) of ``cv2.resize(src, (w, h))`` for ``size`` = (h, w), bilinear
    (``area``: INTER_AREA, for downscaling), reading only the rows of ``src`` they need."""
    import cv2

    (h, w), src_h = size, src.shape[0]
    interpolation = cv2.INTER_AREA if area else cv2.INTER_LINEAR
    r = _ratio(src_h, h) if area else _ratio(h, src_h)
    if r and area:  # whole source rows per output row: cv2 on the band gives the same sums
        return np.asarray(cv_resize(src[r * top : r * bottom], (w, bottom - top), interpolation))
    lo, hi = (max(top // r - 1, 0), min((bottom - 1) // r + 2, src_h)) if r else (0, 0)
    if r and r * (hi - lo) <= 1.5 * (bottom - top):
        # a whole upscale of a tall enough band: cv2 on the band and a row either side,
        # whose edge rows we drop (a few rows of waste, not r times the band)
        block = cv_resize(src[lo:hi], (w, r * (hi - lo)), interpolation)
        return np.asarray(block[top - r * lo : bottom - r * lo])
    taps = (area_taps if area else linear_taps)(src_h, h)
    lo, hi = taps.span(top, bottom)
    if w > src.shape[1]:  # sum the narrow rows, then widen them
        return _along_x(taps.rows(src[lo:hi], lo, top, bottom), w, interpolation)
    return taps.rows(_along_x(src[lo:hi], w, interpolation), lo, top, bottom)


def _down_block(
    block: F32, lo: int, src_h: int, size: tuple[int, int], top: int, bottom: int
) -> F32:
    """Rows [top, bottom) of an INTER_AREA resize to ``size`` of a frame ``src_h`` rows
    tall, from ``block``: its rows ``lo`` onwards, as ``area_taps(...).span`` asked."""
    import cv2

    h, w = size
    if _ratio(src_h, h):  # whole source rows per output row: cv2 on the block
        return cv_resize(block, (w, bottom - top), cv2.INTER_AREA)
    return area_taps(src_h, h).rows(_along_x(block, w, cv2.INTER_AREA), lo, top, bottom)


def area_down(
    rows_fn: Callable[[int, int], Sequence[F32]], shape: tuple[int, int], size: tuple[int, int]
) -> list[F32]:
    """``cv2.resize(a, (w, h), INTER_AREA)`` of each array ``rows_fn`` makes, for a frame
    of ``shape`` (H, W) down to ``size`` (h, w), computing the frame a band of rows at a
    time (only the low-resolution results are ever whole)."""
    (src_h, src_w), h = shape, size[0]
    taps = area_taps(src_h, h)
    step = max(1, band_rows(src_w) * h // src_h)
    outs: list[F32] = []
    for top in range(0, h, step):
        bottom = min(top + step, h)
        lo, hi = taps.span(top, bottom)
        parts = [_down_block(a, lo, src_h, size, top, bottom) for a in rows_fn(lo, hi)]
        if not outs:
            outs = [np.empty((h, *p.shape[1:]), np.float32) for p in parts]
        for out, part in zip(outs, parts, strict=True):
            out[top:bottom] = part
    return outs


def halved_rows(
    rows_fn: Callable[[int, int], list[F32]], shape: tuple[int, int]
) -> tuple[Callable[[int, int], list[F32]], tuple[int, int]]:
    """Rows of each frame ``rows_fn`` gives, halved (area-averaged; odd sizes round up, as
    ``cv2.resize`` to ((w + 1) // 2, (h + 1) // 2)), computed from rows of the frames: a
    pyramid level read band by band, so that only the level one keeps is ever whole.
    Returns the rows function and the halved size."""
    h, w = shape
    size = ((h + 1) // 2, (w + 1) // 2)
    taps = area_taps(h, size[0])

    def rows(top: int, bottom: int) -> list[F32]:
        lo, hi = taps.span(top, bottom)
        return [_down_block(a, lo, h, size, top, bottom) for a in rows_fn(lo, hi)]

    return rows, size


def blur_plan(sigma: float, shape: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """How a Gaussian blur of a frame of ``shape`` (H, W) on a downscaled copy runs: (the
    copy's (h, w), rest). Area-downscale by a factor of at least 2 (so that ``rest`` stays
    ≤ 4.5 px), blur by ``rest`` there, upsample bilinearly. The area average is a box of
    variance factor²/12 (in full-size pixels²) and the bilinear upsampling a tent of
    variance factor²/6 on average over its phases, so ``rest`` is what remains of sigma²:
    √(sigma²/factor² − 1/4) small pixels. Against the exact blur, on the SUN and TUM
    photos at 1920x1080 and 1024x576 here: at most 0.2-0.75/255 from sigma 4 to 80
    (0.8/255 before the tent was counted)."""
    factor = max(2.0, sigma / _LEVEL_SIGMA)
    h, w = shape
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    return size, math.sqrt(max(sigma**2 / factor**2 - 0.25, 0.0))


def gaussian_halo(sigma: float) -> int:
    """Rows a ``cv2.GaussianBlur`` of float data reads on each side (its kernel radius,
    ``round(8 sigma + 1) | 1`` wide), plus one for safety."""
    return (round(sigma * 8 + 1) | 1) // 2 + 1


class BandedGaussian:
    """``gaussian_blur(frame, sigma)`` (``nodes._filters``) read band by band.

    ``rows_fn(top, bottom)`` gives rows of the frame to blur, of ``shape`` (H, W); it is
    called with halo rows (direct blurs) or once over the frame in bands (to build the
    small copy of a wide blur). ``rows(top, bottom)`` returns the blurred rows; ``reach``
    is how many halo rows each call reads on either side (0 for a wide blur).
    ``direct_up_to`` moves the switch to the downscaled copy (a soft look that no gain
    amplifies can take it from sigma 4: within 0.75/255 of the exact blur on photos)."""

    def __init__(
        self,
        rows_fn: Rows,
        shape: tuple[int, int],
        sigma: float,
        *,
        direct_up_to: float = DIRECT_SIGMA,
    ) -> None:
        import cv2

        self.rows_fn, self.shape, self.sigma = rows_fn, shape, float(sigma)
        self.small: F32 | None = None
        direct = self.sigma <= direct_up_to
        self.reach = gaussian_halo(self.sigma) if direct and self.sigma > 0.05 else 0
        if direct:
            return
        size, rest = blur_plan(self.sigma, shape)
        (small,) = area_down(lambda a, b: [rows_fn(a, b)], shape, size)
        if rest > 0.05:
            small = np.asarray(cv2.GaussianBlur(small, (0, 0), rest, borderType=cv2.BORDER_REFLECT))
        self.small = small

    def rows(self, top: int, bottom: int) -> F32:
        import cv2

        if self.small is not None:
            return resize_rows(self.small, self.shape, top, bottom)
        if self.sigma <= 0.05:
            return np.array(self.rows_fn(top, bottom), dtype=np.float32)
        lo, hi = halo_span(top, bottom, self.reach, self.shape[0])
        src = self.rows_fn(lo, hi)
        blurred = cv2.GaussianBlur(src, (0, 0), self.sigma, borderType=cv2.BORDER_REFLECT)
        return np.asarray(blurred[top - lo : bottom - lo])
