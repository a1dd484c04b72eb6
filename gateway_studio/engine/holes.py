"""The one shared hole fill: what a Depth holds where its source had no value.

A sensor leaves holes (no return, out of range, shadowed), a renderer leaves background,
a stereo pair leaves occlusions. The ``Depth`` slot keeps a validity mask for them, and
beside it a *filled* value at every pixel, so that nodes which need a value everywhere
(fields, modulation, normals, relighting) never read a hole as "farthest". The fill is
this module's, and only this module's: each hole takes the value of its nearest valid
pixel (Euclidean distance). It is exact where a hole sits inside one surface, cheap
(one distance transform), and never invents a depth that the map does not hold. The
``depth.fill`` node offers a photo-guided fill on top of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: The name a Depth records for this fill (shown in node status and reports).
NEAREST = "nearest"


def fill_nearest(values: NDArray[np.float32], valid: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``values`` with every invalid pixel set to its nearest valid pixel's value.

    ``valid`` must hold at least one True. Returns a new float32 array."""
    import cv2

    out = np.array(values, dtype=np.float32)
    if valid.all():
        return out
    # Zero pixels of the source are the "sites": here the valid pixels. With
    # DIST_LABEL_PIXEL every site gets its own label in row-major order (1, 2, ...), and
    # every other pixel the label of its nearest site.
    sites = np.ascontiguousarray(~valid, dtype=np.uint8)
    _, labels = cv2.distanceTransformWithLabels(
        sites, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    known: NDArray[Any] = out[valid]
    holes = ~valid
    out[holes] = known[labels[holes] - 1]
    return out


__all__ = ["NEAREST", "fill_nearest"]
