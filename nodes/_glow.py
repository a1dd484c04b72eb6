"""The glow of ``modulate.halo``: highlights weighted by a field, bloomed at half size.

Which pixels glow is decided at full size (a one-pixel highlight counts), a band of rows
at a time; everything blurred runs at half size, where the glow has no detail to lose.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Image

from ._clamps import at_most
from ._filters import gaussian_blur, luminance, smoothstep
from ._pixels import bcast, to_light
from ._resample import area_down
from ._strips import image_rows

F32 = NDArray[np.float32]

#: Width of the soft knee around the threshold, in luma.
KNEE = 0.1


def bloom(half: F32, radius: float) -> F32:
    """Sum of three Gaussians (radius/4, /2, /1, weights 1/2, 1/3, 1/6) of a half-size
    image: a tight core with a long soft tail, like a lens's glare, at near-constant cost
    (``gaussian_blur`` downscales further for the wide ones). ``radius`` is in full-size
    pixels; the result stays half-size."""
    import cv2

    acc: F32 | None = None
    for fraction, weight in ((0.25, 0.5), (0.5, 1 / 3), (1.0, 1 / 6)):
        sigma = radius * fraction * 0.25  # radius = 2 σ, halved for the half-size copy
        part = gaussian_blur(half, sigma)  # a new array: scaled and summed in place (at
        cv2.multiply(part, (weight, weight, weight, 0.0), dst=part)  # 33 MP each is 100 MB)
        acc = part if acc is None else np.asarray(cv2.add(acc, part, dst=acc))
    assert acc is not None
    return acc


def half_size_glow(
    image: Image, amount: F32, threshold: float, radius: float, tint: NDArray[np.float32]
) -> F32:
    """The half-size glow light (``tint`` already squared and scaled by the intensity),
    at most 1: highlights (luma above ``threshold``, soft knee) weighted by ``amount``
    and the image's alpha, in linear-ish light, bloomed over ``radius`` full-size px."""
    import cv2

    h, w = amount.shape

    def light_and_key(top: int, bottom: int) -> list[F32]:
        """Light, and which pixels glow, at full size."""
        luma = luminance(image_rows(image, top, bottom))
        if image.colorspace == "linear":  # the threshold is on perceived (gamma) brightness
            luma = np.sqrt(luma)
        key = smoothstep(threshold - KNEE, threshold + KNEE, luma) * amount[top:bottom]
        if image.alpha is not None:  # an invisible pixel is no highlight
            key = key * image.alpha[top:bottom]
        return [to_light(image, top, bottom), key]

    half_light, half_key = area_down(light_and_key, (h, w), ((h + 1) // 2, (w + 1) // 2))
    emit = cv2.multiply(half_light, bcast(half_key, 3), dst=half_light)  # (ours: in place)
    del half_key
    glow = bloom(emit, radius)
    del emit, half_light
    cv2.multiply(glow, (*tint.tolist(), 0.0), dst=glow)
    return at_most(glow, 1.0, out=glow)
