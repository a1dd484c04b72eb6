"""The styles ``modulate.depth_band`` applies through its field, for bands of rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Image

from ._filters import LUMA_709, luminance
from ._pixels import bcast
from ._resample import area_down
from ._strips import image_rows

F32 = NDArray[np.float32]


def posterize(pixels: F32, levels: int) -> F32:
    """``levels`` tones per channel, rounded to the nearest."""
    steps = np.float32(levels - 1)
    return (np.floor(pixels * steps + 0.5) / steps).astype(np.float32)


def pixel_cells(image: Image, cell: float) -> Callable[[int, int], F32]:
    """rows(top, bottom) of the image pixelated into cells of ``cell`` pixels: the
    area-averaged small copy (built band by band), blown up nearest-neighbour exactly as
    ``cv2.resize(..., INTER_NEAREST)`` does."""
    import cv2

    h, w = image.size
    c = max(cell, 1.0)
    small_size = (max(1, round(h / c)), max(1, round(w / c)))
    (small,) = area_down(lambda a, b: [image_rows(image, a, b)], (h, w), small_size)
    step_y = 1.0 / (h / small_size[0])  # cv2: source = floor(dst · (1 / (dst / src)))
    source_row = np.minimum(np.floor(np.arange(h) * step_y).astype(np.intp), small_size[0] - 1)

    def rows(top: int, bottom: int) -> F32:
        picked = small[source_row[top:bottom]]
        return np.asarray(cv2.resize(picked, (w, bottom - top), interpolation=cv2.INTER_NEAREST))

    return rows


def toned(pixels: F32, rgb: NDArray[np.float32]) -> F32:
    """Monochrome in ``rgb``: each pixel's luma carried by the colour (brightness kept)."""
    import cv2

    luma = luminance(pixels)
    gain = rgb / max(float(rgb @ LUMA_709[0]), 1e-3)
    return np.asarray(cv2.multiply(bcast(luma, 3), (*gain.tolist(), 0.0)))
