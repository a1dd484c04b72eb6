"""Small shared filters for field, geometry and modulation nodes (vectorised, float32).

Conventions every helper here follows:

* Arrays are float32, (H, W) or (H, W, C); inputs are never modified (slot arrays are
  read-only), results are new arrays.
* **Radii are in reference pixels**: pixels of a frame whose short side is 1080
  (``REFERENCE_SHORT_SIDE``). ``scaled_radius`` turns them into pixels of the actual
  raster, so a knob looks the same on a preview proxy, a 1080p frame and a 4K export.
* A Gaussian "radius" is two standard deviations (``sigma = radius / 2``): about 95 % of
  the kernel's weight lies within it.

cv2 is imported inside the functions (ruff TID253): importing ``nodes`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import GatewayError

from ._clamps import at_least
from ._resample import DIRECT_SIGMA as _DIRECT_SIGMA
from ._resample import area_down, blur_plan, cv_resize, resize_rows
from ._strips import halo_span

F32 = NDArray[np.float32]

#: Short side, in pixels, of the frame that radius knobs are expressed in.
REFERENCE_SHORT_SIDE = 1080


def pixel_scale(shape: tuple[int, ...]) -> float:
    """Actual pixels per reference pixel for a raster of ``shape`` (H, W, ...)."""
    return min(int(shape[0]), int(shape[1])) / REFERENCE_SHORT_SIDE


def scaled_radius(radius: float, shape: tuple[int, ...]) -> float:
    """A radius in reference pixels (1080-pixel short side) → pixels of ``shape``."""
    return float(radius) * pixel_scale(shape)


def smoothstep(edge0: float, edge1: float, x: NDArray[Any]) -> F32:
    """Hermite 0 → 1 ramp between ``edge0`` and ``edge1`` (a step when they are equal)."""
    if edge1 == edge0:
        return (np.asarray(x) >= edge0).astype(np.float32)
    t = np.clip((np.asarray(x, dtype=np.float32) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32, copy=False)


LUMA_709 = np.array([[0.2126, 0.7152, 0.0722]], dtype=np.float32)


def luminance(pixels: NDArray[Any]) -> F32:
    """Rec. 709 luma of an (H, W, 3) array as (H, W) float32 — one ``cv2.transform``
    pass, about ten times faster on a 1080p frame than the numpy weighted sum."""
    import cv2

    return np.asarray(cv2.transform(np.asarray(pixels, dtype=np.float32), LUMA_709))


def gaussian_blur(values: NDArray[Any], sigma: float) -> F32:
    """Gaussian blur with standard deviation ``sigma`` in pixels (reflecting borders).

    Large sigmas blur a downscaled copy and scale it back up: a wide Gaussian has no
    detail left to lose, and the cost stays nearly constant (a few ms at 1080p)."""
    import cv2

    src = np.asarray(values, dtype=np.float32)
    if sigma <= 0.05:
        return src.copy()
    if sigma <= _DIRECT_SIGMA:
        return np.asarray(cv2.GaussianBlur(src, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))
    h, w = src.shape[:2]
    (small_h, small_w), rest = blur_plan(sigma, (h, w))
    small = cv_resize(src, (small_w, small_h), cv2.INTER_AREA)  # (its fast 2x path too)
    if rest > 0.05:
        small = cv2.GaussianBlur(small, (0, 0), rest, borderType=cv2.BORDER_REFLECT)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def gaussian_by_radius(values: NDArray[Any], radius: float) -> F32:
    """Gaussian blur whose ``radius`` (actual pixels) is two standard deviations."""
    return gaussian_blur(values, radius / 2.0)


def box_mean(values: NDArray[Any], radius: int) -> F32:
    """Mean over a (2r+1)² window, reflecting borders; O(1) per pixel."""
    import cv2

    r = max(int(radius), 0)
    src = np.asarray(values, dtype=np.float32)
    if r == 0:
        return src.copy()
    return np.asarray(
        cv2.boxFilter(
            src, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT
        )
    )


def _guided_coefficients(g: F32, p: F32, r: int, eps: float) -> tuple[F32, F32]:
    """The guided filter's box-averaged linear coefficients (mean a, mean b) of a guide
    ``g`` and a field ``p`` of the same size, window radius ``r``."""
    mean_g = box_mean(g, r)
    mean_p = box_mean(p, r)
    var_g = box_mean(g * g, r) - mean_g * mean_g
    cov_gp = box_mean(g * p, r) - mean_g * mean_p
    a = cov_gp / (at_least(var_g, 0.0) + np.float32(eps))
    b = mean_p - a * mean_g
    return box_mean(a, r), box_mean(b, r)


def guided_filter(guide: NDArray[Any], src: NDArray[Any], radius: float, eps: float) -> F32:
    """Edge-preserving smoothing of ``src`` (H, W) steered by a grey ``guide`` (H, W).

    He, Sun & Tang's guided filter: the output is locally ``a * guide + b``, so it follows
    the guide's edges instead of blurring across them. ``radius`` is the window radius in
    pixels; ``eps`` (in squared guide units, e.g. 1e-3) is how big a guide step must be to
    count as an edge. Wide radii run on a subsampled copy (the "fast guided filter"), so
    the cost stays a few box filters at any radius.
    """
    import cv2

    g = np.asarray(guide, dtype=np.float32)
    p = np.asarray(src, dtype=np.float32)
    h, w = p.shape
    step = max(1, int(radius // 4))
    if step > 1:
        size = (max(1, w // step), max(1, h // step))
        g_s = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        p_s = cv2.resize(p, size, interpolation=cv2.INTER_AREA)
    else:
        g_s, p_s = g, p
    r = max(1, round(radius / step))
    mean_a, mean_b = _guided_coefficients(g_s, p_s, r, eps)
    if step > 1:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return (mean_a * g + mean_b).astype(np.float32, copy=False)


def guided_rows(
    guide: Callable[[int, int], F32],
    src: Callable[[int, int], F32],
    shape: tuple[int, int],
    radius: float,
    eps: float,
) -> Callable[[int, int], F32]:
    """``guided_filter`` read a band of rows at a time: ``guide(top, bottom)`` and
    ``src(top, bottom)`` give rows of the (H, W) guide and field of ``shape``; the result
    gives rows of the filtered field (the same numbers as ``guided_filter``, to float
    rounding). Wide radii build the subsampled copies band by band and keep only those;
    narrow ones run every box filter on the band and the ``2 r + 1`` rows of halo the two
    rounds of box means reach."""
    h, w = shape
    step = max(1, int(radius // 4))
    r = max(1, round(radius / step))
    if step == 1:

        def direct(top: int, bottom: int) -> F32:
            lo, hi = halo_span(top, bottom, 2 * r + 1, h)
            g = guide(lo, hi)
            filtered = guided_filter(g, src(lo, hi), radius, eps)
            return filtered[top - lo : bottom - lo]

        return direct
    size = (max(1, h // step), max(1, w // step))
    g_s, p_s = area_down(lambda a, b: [guide(a, b), src(a, b)], shape, size)
    mean_a, mean_b = _guided_coefficients(g_s, p_s, r, eps)

    def upsampled(top: int, bottom: int) -> F32:
        a = resize_rows(mean_a, shape, top, bottom)
        b = resize_rows(mean_b, shape, top, bottom)
        return (a * guide(top, bottom) + b).astype(np.float32, copy=False)

    return upsampled


def same_size(values: NDArray[Any], size: tuple[int, int], what: str) -> NDArray[np.float32]:
    """``values`` (a depth map or field) checked to be ``size`` (H, W), as float32.

    Depth and fields are never resized behind the user's back: another size is refused,
    naming both sizes and what fixes it (the resize is explicit where the map is made)."""
    h, w = size
    vh, vw = values.shape[:2]
    if (vh, vw) != (h, w):
        raise GatewayError(
            f"{what} is {vw}x{vh} but the image is {w}x{h}: the sizes must match. Connect "
            f"the {what.removeprefix('the ')} of this photo, or resize it on purpose where it is "
            "made (depth.from_file / depth.embedded: connect the photo to 'size_from'; "
            "field nodes follow their input's size)"
        )
    return np.asarray(values, dtype=np.float32)


def resized_to(values: NDArray[Any], size: tuple[int, int], what: str) -> NDArray[np.float32]:
    """``values`` (H, W[, C]) at ``size`` (H, W); refuses a different aspect ratio.

    One rule for every node that pairs a map with a photo: a map of the same photo at
    another resolution is resampled; another photo's map (aspect ratio off by > 1 %) is
    refused with a message, never silently stretched."""
    import cv2

    h, w = size
    vh, vw = values.shape[:2]
    if (vh, vw) == (h, w):
        return np.asarray(values, dtype=np.float32)
    if abs(vw / vh - w / h) > 0.01 * (w / h):
        raise GatewayError(
            f"{what} is {vw}x{vh} but the image is {w}x{h}: connect one of the same photo"
        )
    interp = cv2.INTER_AREA if vw > w else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(np.asarray(values), (w, h), interpolation=interp))
