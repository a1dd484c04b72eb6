"""The subject of ``segment.subject``: connected regions of candidate pixels, the nearest
large one by depth (or the largest), the nearest large depth layer when no class is
given, and the feathered field of a mask.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _components(mask: NDArray[np.bool_]) -> tuple[int, NDArray[np.int32], NDArray[np.int64]]:
    """8-connected components: (count incl. background 0, label map, pixel counts)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    areas = np.asarray(stats[:, cv2.CC_STAT_AREA], dtype=np.int64)
    return int(count), np.asarray(labels, dtype=np.int32), areas


def pick_subject(
    candidates: NDArray[np.bool_],
    depth: NDArray[np.float32] | None,
    *,
    min_area: float,
    tolerance: float,
) -> NDArray[np.bool_] | None:
    """Among the connected regions of ``candidates``, the subject; None if none is large.

    Large = at least ``min_area`` of the image. With depth: the nearest large region (by
    mean Depth, 1 = near), plus any other large region within ``tolerance`` of its depth
    (two people side by side). Without depth: the largest region.
    """
    count, labels, areas = _components(candidates)
    if count <= 1:
        return None
    large = [i for i in range(1, count) if areas[i] >= min_area * candidates.size]
    if not large:
        return None
    if depth is None:
        best = max(large, key=lambda i: areas[i])
        return np.asarray(labels == best)
    sums = np.bincount(labels.ravel(), weights=depth.ravel(), minlength=count)
    means = sums / np.maximum(areas, 1)
    nearest = max(means[i] for i in large)
    keep = [i for i in large if means[i] >= nearest - tolerance]
    return np.isin(labels, keep)


def _otsu(values: NDArray[np.float32]) -> float:
    """Otsu's threshold of values in [0, 1] (256 bins)."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(np.float64)
    total = weight[-1]
    mean_cum = np.cumsum(hist * centres)
    w0, w1 = weight[:-1], total - weight[:-1]
    ok = (w0 > 0) & (w1 > 0)
    m0 = np.where(ok, mean_cum[:-1] / np.maximum(w0, 1), 0)
    m1 = np.where(ok, (mean_cum[-1] - mean_cum[:-1]) / np.maximum(w1, 1), 0)
    between = np.where(ok, w0 * w1 * (m0 - m1) ** 2, -1)
    return float(edges[1:][int(np.argmax(between))])


#: A depth layer counts as an object when its rim is at least this much nearer than the
#: ring just outside it (a real depth edge, not a cut through a smooth surface).
_EDGE_CONTRAST = 0.08
#: Width of the rims compared, as a fraction of the shorter side (model edges are soft).
_RIM = 0.01


def edge_contrast(region: NDArray[np.bool_], depth: NDArray[np.float32]) -> float:
    """Mean depth of the region's inner rim minus that of the ring just outside it."""
    import cv2

    k = max(1, round(_RIM * min(region.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    u8 = region.astype(np.uint8)
    outer = (cv2.dilate(u8, kernel) > 0) & ~region
    # Replicated borders: the image's edge is not an edge of the region.
    inner = region & ~(cv2.erode(u8, kernel, borderType=cv2.BORDER_REPLICATE) > 0)
    if not outer.any() or not inner.any():
        return 0.0
    return float(depth[inner].mean() - depth[outer].mean())


def nearest_depth_region(
    depth: NDArray[np.float32], *, min_area: float, tolerance: float
) -> NDArray[np.bool_]:
    """The nearest large object of a depth map, with no class information.

    Splits the depth histogram in two (Otsu) and keeps the nearest large connected region
    of the near side (``pick_subject``); repeats inside it while the new region is still
    large and bounded by a depth edge (its rim at least 0.08 nearer than the ring around
    it). A split through a smooth surface (the front of a ball) has no such edge and
    ends the search, so the whole object is kept.
    """
    region = np.ones(depth.shape, dtype=bool)
    best: NDArray[np.bool_] | None = None
    for _ in range(8):  # each split halves the histogram: a few rounds are enough
        values = depth[region]
        if values.size < 2 or float(values.max() - values.min()) < _EDGE_CONTRAST:
            break
        t = _otsu(values)
        candidate = region & (depth >= t)
        picked = pick_subject(candidate, depth, min_area=min_area, tolerance=tolerance)
        if picked is None or edge_contrast(picked, depth) < _EDGE_CONTRAST:
            break
        region, best = picked, picked
    if best is None:  # no depth edge anywhere: the near side of one split
        t = _otsu(depth.ravel())
        best = pick_subject(depth >= t, depth, min_area=0.0, tolerance=tolerance)
    return best if best is not None else np.ones(depth.shape, dtype=bool)


def feathered(mask: NDArray[np.bool_], feather: float) -> NDArray[np.float32]:
    """A soft version of a mask: Gaussian blur with sigma = feather × shorter side."""
    import cv2

    soft = mask.astype(np.float32)
    sigma = feather * min(mask.shape)
    if sigma > 0.25:
        blurred = cv2.GaussianBlur(
            soft, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE
        )
        soft = np.asarray(blurred, dtype=np.float32)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)
