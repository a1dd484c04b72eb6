"""Pixel maths shared by the modulation nodes, written for bands of rows (``nodes._strips``).

Every helper takes and returns float32 arrays of one band; element-wise image maths goes
through ``cv2`` where numpy would broadcast (several times faster). ``render`` assembles
a node's output frame from its bands.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Image, parse_color

from ._clamps import at_least
from ._filters import luminance
from ._strips import bands, image_rows, new_frame

F32 = NDArray[np.float32]

#: Weights are scaled by this before ``cv2.blendLinear``, which adds 1e-5 to its
#: denominator: a power of two scales exactly and makes that term vanish in float32, so a
#: weight of exactly 0 or 1 returns the other input bit for bit.
BLEND_SCALE = np.float32(2.0**17)


def bcast(values: F32, channels: int) -> F32:
    """(H, W) → (H, W, C) copy; cv2 maths needs equal shapes (it does not broadcast)."""
    import cv2

    return np.asarray(cv2.merge([values] * channels))


def solid(rgb: NDArray[np.float32], rows: int, width: int) -> F32:
    """A (rows, width, 3) array of one colour. (A numpy fill broadcasting the colour over
    the last axis runs an inner loop of 3 values: 1.3 ms for a 128x1024 band here, 40x a
    fill of whole rows, which this is.)"""
    out = np.empty((rows, width, 3), np.float32)
    out.reshape(rows, width * 3)[:] = np.tile(np.asarray(rgb, np.float32), width)
    return out


def blend(a: F32, b: F32, weight_a: F32, weight_b: F32) -> F32:
    """(a·wa + b·wb) / (wa + wb) per pixel in one pass (``cv2.blendLinear``): a lerp, or a
    normalised "over" when the weights are coverages. 0 where both weights are 0."""
    import cv2

    return np.asarray(cv2.blendLinear(a, b, weight_a * BLEND_SCALE, weight_b * BLEND_SCALE))


def lerp(a: F32, b: F32, weight: F32 | float) -> F32:
    """a + (b − a)·weight for (H, W, 3) images; ``weight`` is (H, W) or a scalar."""
    import cv2

    if isinstance(weight, float):
        return np.asarray(cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0))
    return blend(a, b, 1.0 - weight, weight)


def mixed(source: F32, effect: F32, weight: F32 | float) -> F32:
    """``source`` rows with ``effect`` blended in by ``weight`` (0 = source, 1 = effect)."""
    if isinstance(weight, float):
        if weight <= 0.0:
            return source
        if weight >= 1.0:
            return effect
    return lerp(source, effect, weight)


def onto(image: Image, top: int, bottom: int, effect: F32, mix: float) -> F32:
    """``mixed`` of the image's rows [top, bottom) and ``effect`` by the ``mix`` knob,
    converting the image's rows only when they show."""
    if mix >= 1.0:
        return effect
    return mixed(image_rows(image, top, bottom), effect, mix)


def render(image: Image, band: Callable[[int, int], F32], *, min_rows: int = 1) -> Image:
    """An Image like ``image`` (alpha, colorspace, bit depth kept) whose rows [top, bottom)
    are ``band(top, bottom)`` clipped to [0, 1]: one output frame, band temporaries."""
    h, w = image.size
    out = new_frame(h, w, 3)
    for top, bottom in bands(h, w, min_rows=min_rows):
        np.clip(band(top, bottom), 0.0, 1.0, out=out[top:bottom])
    return Image(out, image.alpha, image.colorspace, image.bit_depth)


#: An 8-bit sRGB photo's light (v / 255)² is one OpenCV product, v·v / 65025 straight from
#: the 8-bit values: 0.55x the time of a ``cv2.LUT`` lookup of float32 (which took 0.43x
#: the time of converting then squaring) at 1024x576, and nearer the exact value (within
#: 1.14 float32 ulp for every value, against 1.49 for converting then squaring; tested).
_LIGHT_8BIT_SCALE = 1.0 / 65025.0


def to_light(image: Image, top: int, bottom: int) -> F32:
    """Rows of the pixels in linear-ish light (sRGB squared; a linear image as it is), as
    a new array the caller owns."""
    import cv2

    if image.data.dtype == np.uint8 and image.colorspace != "linear":
        rows = image.data[top:bottom]
        return np.asarray(cv2.multiply(rows, rows, scale=_LIGHT_8BIT_SCALE, dtype=cv2.CV_32F))
    p = image_rows(image, top, bottom)
    if image.colorspace == "linear":
        return p.copy() if image.data.dtype == np.float32 else p  # converted rows are new
    return np.asarray(cv2.multiply(p, p))


def from_light(image: Image, light: F32) -> F32:
    """Back from linear-ish light (clamps ``light`` at 0 in place: pass an owned array)."""
    import cv2

    light = at_least(light, 0.0, out=light)
    return light if image.colorspace == "linear" else np.asarray(cv2.sqrt(light))


def colour(value: str, image: Image) -> NDArray[np.float32]:
    """A '#rrggbb' knob as float32 RGB in the image's value space (sRGB or linear)."""
    rgb = np.asarray(parse_color(value), dtype=np.float32)
    return rgb * rgb if image.colorspace == "linear" else rgb


def saturation_lerp(pixels: F32, amount: F32) -> F32:
    """Move each pixel toward its own grey by ``amount`` (H, W) in [0, 1]."""
    grey = bcast(luminance(pixels), 3)
    return lerp(pixels, grey, amount)
