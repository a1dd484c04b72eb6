"""Changing a Depth's raster: explicit resizes, and upsampling that follows the photo.

Nothing here is called behind the user's back: a node resizes depth only where it says
so (``depth.estimate`` to its photo, ``depth.embedded`` to its photo, ``size_from`` on
``depth.from_file``), and the result records the step in its provenance."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Depth, GatewayError, Image

from ._filters import box_mean

#: Rows per strip when refining big maps: bounds the temporaries to a strip's worth.
STRIP_ROWS = 384


def guided_filter_color(
    guide: NDArray[np.float32], src: NDArray[np.float32], radius: int, eps: float
) -> NDArray[np.float32]:
    """He, Sun & Tang's guided filter with a colour guide (H, W, 3) and a grey ``src``.

    Locally the output is ``a · guide + b`` with a 3-vector ``a``: it follows colour edges
    that a grey guide would miss. ``eps`` is in squared guide units (guide in [0, 1])."""
    mean_i = [box_mean(np.ascontiguousarray(guide[..., c]), radius) for c in range(3)]
    mean_p = box_mean(src, radius)
    cov = [box_mean(guide[..., c] * src, radius) - mean_i[c] * mean_p for c in range(3)]
    var: dict[tuple[int, int], NDArray[np.float32]] = {}
    for i in range(3):
        for j in range(i, 3):
            var[i, j] = box_mean(guide[..., i] * guide[..., j], radius) - mean_i[i] * mean_i[j]
    e = np.float32(eps)
    a11, a12, a13 = var[0, 0] + e, var[0, 1], var[0, 2]
    a22, a23, a33 = var[1, 1] + e, var[1, 2], var[2, 2] + e
    # Inverse of the symmetric 3x3 (Σ + εI) per pixel, by cofactors.
    c11, c12, c13 = a22 * a33 - a23 * a23, a13 * a23 - a12 * a33, a12 * a23 - a13 * a22
    c22, c23, c33 = a11 * a33 - a13 * a13, a13 * a12 - a11 * a23, a11 * a22 - a12 * a12
    det = a11 * c11 + a12 * c12 + a13 * c13
    a0 = (c11 * cov[0] + c12 * cov[1] + c13 * cov[2]) / det
    a1 = (c12 * cov[0] + c22 * cov[1] + c23 * cov[2]) / det
    a2 = (c13 * cov[0] + c23 * cov[1] + c33 * cov[2]) / det
    b = mean_p - a0 * mean_i[0] - a1 * mean_i[1] - a2 * mean_i[2]
    out = (
        box_mean(a0, radius) * guide[..., 0]
        + box_mean(a1, radius) * guide[..., 1]
        + box_mean(a2, radius) * guide[..., 2]
        + box_mean(b, radius)
    )
    return np.asarray(out, dtype=np.float32)


def refine_edges(
    upsampled: NDArray[np.float32],
    guide: NDArray[np.float32],
    factor: float,
    *,
    value_range: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    """Snap the soft depth edges of an upsampled map to the photo's edges.

    Model depth (or any map upsampled ``factor`` times) changes over a few pixels where
    the scene has a step. Per pixel we take the local near and far extremes (max / min
    over a window of about ``factor`` pixels), mark which side of the soft ramp the pixel
    is on, and refine that near/far mask with a colour guided filter (He et al.'s
    "guided feathering"), so the boundary follows the photo's colour edge; the value is
    then far + mask · (near − far). Only where the local range is a real step (above
    ``tau``, relative to the map's range) is anything changed, so smooth slopes and flat
    areas keep the plain upsampled values. Radii scale with ``factor`` (tuned on
    benchmarks/depth_edges.py: sensor RGB-D frames and Middlebury ground truth).
    """
    import cv2

    values = np.asarray(upsampled, dtype=np.float32)
    lo, hi = value_range or (float(values.min()), float(values.max()))
    if not hi > lo:
        return values.copy()
    p = (values - lo) / (hi - lo)
    r = max(1, round(factor / 2))
    tau = 0.01 + 0.005 * factor
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    near, far = cv2.dilate(p, kernel), cv2.erode(p, kernel)
    span = near - far
    side = ((p - far) > 0.5 * span).astype(np.float32)  # 1 = the near side of the ramp
    alpha = np.clip(guided_filter_color(guide, side, r, 1e-3), 0.0, 1.0)
    snapped = far + alpha * span
    weight = np.clip((span - tau) / tau, 0.0, 1.0)  # 0 on slopes and flats
    out = p + weight * (snapped - p)
    return np.asarray(out * (hi - lo) + lo, dtype=np.float32)


def refine_edges_in_strips(
    upsampled: NDArray[np.float32], guide: Image, factor: float
) -> NDArray[np.float32]:
    """``refine_edges`` over horizontal strips with the halo its kernels need, guided by
    the photo's sRGB rows converted strip by strip, so a 45 MP map costs a strip's
    temporaries, not twenty full frames. Equal to the whole-frame call but for rounding."""
    values = np.asarray(upsampled, dtype=np.float32)
    height = values.shape[0]
    lo, hi = float(values.min()), float(values.max())
    halo = 4 * max(1, round(factor / 2)) + 4  # dilate r + guided filter 2r, and margin
    out = np.empty_like(values)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(height, top + STRIP_ROWS)
        a, b = max(0, top - halo), min(height, bottom + halo)
        rows = guide.srgb_rows(a, b)
        part = refine_edges(values[a:b], rows, factor, value_range=(lo, hi))
        out[top:bottom] = part[top - a : top - a + bottom - top]
    return out


def resize_depth(
    depth: Depth, size: tuple[int, int], why: str, guide: Image | None = None
) -> Depth:
    """``depth`` at ``size`` (H, W): the step is recorded in its provenance. Upsampling is
    bicubic (clipped to the map's range), refined against ``guide`` (the photo) when
    given; validity is resampled by nearest neighbour, so holes stay holes. A
    different aspect ratio is refused: stretching would put depth on the wrong pixels."""
    import cv2

    h, w = size
    dh, dw = depth.size
    if (dh, dw) == (h, w):
        return depth
    if abs(dw / dh - w / h) > 0.01 * (w / h):
        raise GatewayError(
            f"the depth is {dw}x{dh} but the photo is {w}x{h}: a different aspect ratio, so "
            "it is not a depth map of this photo (or it is rotated)"
        )
    upsampling = h * w > dh * dw
    interp = cv2.INTER_CUBIC if upsampling else cv2.INTER_AREA
    values = np.clip(cv2.resize(np.asarray(depth.values), (w, h), interpolation=interp), 0, 1)
    if guide is not None and upsampling:
        values = np.clip(refine_edges_in_strips(values, guide, max(h / dh, w / dw)), 0, 1)
    valid = None
    if depth.valid is not None:
        small = depth.valid.view(np.uint8)
        valid = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST) > 0
    step = f"{why} {dw}x{dh}→{w}x{h}" + (" (edge-aware)" if guide is not None else "")
    return depth.derived(values.astype(np.float32), step, valid=valid)
