"""Class scores → labels for the segmentation models: bilinear upsampling to the photo's
full size, then argmax — exactly ``F.interpolate(..., mode="bilinear",
align_corners=False)`` followed by argmax, done in row strips on the few classes that can
win in each cell, so a 150-class model on a 24-megapixel photo never holds a full-size
score volume (``nodes/_segmodels.py``, ``nodes/_selfie.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Upsampling works in strips of at most this many score values (float32: 4 bytes each).
_STRIP_VALUES = 1 << 24
#: Classes interpolated per cell at most; cells with more are done with every class.
_MAX_CANDIDATES = 6


def _source_index(out_len: int, in_len: int, scale: float) -> tuple[Any, Any, Any]:
    """PyTorch's bilinear (align_corners=False) source indices and weights along one axis."""
    import torch

    src = (torch.arange(out_len, dtype=torch.float64) + 0.5) * scale - 0.5
    src = src.clamp(min=0.0)
    i0 = src.floor().long().clamp(max=in_len - 1)
    i1 = (i0 + 1).clamp(max=in_len - 1)
    w1 = (src - i0.double()).clamp(0.0, 1.0).float()
    return i0, i1, w1


def upsample_argmax(
    scores: Any,
    size: tuple[int, int],
    *,
    valid: tuple[float, float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> NDArray[np.int32]:
    """Bilinearly upsample class scores (C, h, w) to ``size`` and take the argmax.

    Gives exactly ``F.interpolate(scores, size, mode="bilinear", align_corners=False)``
    followed by argmax, without upsampling all C classes at full size. Inside one grid
    cell a bilinear value lies between its four corners, and any convex mix of classes
    bounds the winner from below; so a class whose largest corner is below that bound can
    never win in the cell. Most cells keep a handful of candidates, which are interpolated
    in row strips; the few cells with more (class boundaries of a noisy model) are done
    with every class. ``valid`` is the part of the score grid (score pixels, may be
    fractional) that covers the image; the rest is padding.
    """
    import torch

    _, h, w = (int(v) for v in scores.shape)
    out_h, out_w = size
    vh, vw = valid if valid is not None else (float(h), float(w))
    # Indices stop at the last grid cell that covers the image: padding never leaks in.
    lim_h, lim_w = min(h, math.ceil(vh)), min(w, math.ceil(vw))
    y0, _, wy = _source_index(out_h, lim_h, vh / out_h)
    x0, _, wx = _source_index(out_w, lim_w, vw / out_w)
    grid = scores[:, :lim_h, :lim_w].float()
    y_next = (torch.arange(lim_h) + 1).clamp(max=lim_h - 1)
    x_next = (torch.arange(lim_w) + 1).clamp(max=lim_w - 1)
    below = grid.index_select(1, y_next)
    corners = torch.stack(
        (grid, grid.index_select(2, x_next), below, below.index_select(2, x_next))
    )  # (4, C, h, w): the four corners of each cell, per class
    high = corners.amax(dim=0)
    # Lower bounds of the winning score in each cell: the best single class's smallest
    # corner, and the smallest corner of the mean of the classes winning at the corners.
    floor = corners.amin(dim=0).amax(dim=0)
    winners = corners.argmax(dim=1)  # (4, h, w)
    mixed = torch.stack([corners[j].gather(0, winners) for j in range(4)]).mean(dim=1)
    floor = torch.maximum(floor, mixed.amin(dim=0))
    count = (high >= floor).sum(dim=0)
    # Cells with one candidate have one label throughout: a lookup, no arithmetic.
    cell_labels = high.argmax(dim=0).to(torch.int32)
    labels = cell_labels.index_select(0, y0).index_select(1, x0)  # (H, W)
    mixed_pixels = (count > 1).index_select(0, y0).index_select(1, x0)
    py, px = mixed_pixels.nonzero(as_tuple=True)
    k = int(min(int(count.max()), _MAX_CANDIDATES))
    # Candidates in class order, so ties go to the lowest class id as in a full argmax.
    candidates = high.topk(k, dim=0).indices.sort(dim=0).values  # (k, h, w)
    total = int(py.numel())
    step = max(1, _STRIP_VALUES // int(corners.shape[1]))
    for start in range(0, total, step):
        cy, cx = y0[py[start : start + step]], x0[px[start : start + step]]
        a, b = wy[py[start : start + step]], wx[px[start : start + step]]
        few = count[cy, cx] <= k
        # up to k candidates: interpolate only those
        ids = candidates[:, cy, cx]  # (k, n)
        at = (ids, cy[None], cx[None])
        top = corners[0][at] * (1 - b) + corners[1][at] * b
        bottom = corners[2][at] * (1 - b) + corners[3][at] * b
        best = (top * (1 - a) + bottom * a).argmax(dim=0, keepdim=True)
        chosen = ids.gather(0, best)[0].to(torch.int32)
        if not bool(few.all()):  # more candidates than that: every class, these pixels
            hy, hx, ha, hb = cy[~few], cx[~few], a[~few], b[~few]
            full = (corners[0][:, hy, hx] * (1 - hb) + corners[1][:, hy, hx] * hb) * (1 - ha)
            full += (corners[2][:, hy, hx] * (1 - hb) + corners[3][:, hy, hx] * hb) * ha
            chosen[~few] = full.argmax(dim=0).to(torch.int32)
        labels[py[start : start + step], px[start : start + step]] = chosen
        if progress is not None:
            progress(min(start + step, total) / max(total, 1))
    return labels.numpy()
