"""Fields: continuous "how much" maps (float32, [0, 1]) derived from depth and masks."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from gateway_studio.engine import Field, Help, Range, node


@node("field.remap", outputs={"field": Field})
def remap(
    source: Field,
    *,
    band_centre: Annotated[
        float, Range(0, 1, 0.01), Help("With a band width > 0: the value that maps to 1")
    ] = 0.5,
    band_width: Annotated[
        float, Range(0, 1, 0.01), Help("0 = off; else a triangle peak of this half-width")
    ] = 0.0,
    low: Annotated[float, Range(0, 1, 0.01), Help("Values at or below map to 0")] = 0.0,
    high: Annotated[float, Range(0, 1, 0.01), Help("Values at or above map to 1")] = 1.0,
    gamma: Annotated[float, Range(0.05, 10, 0.01), Help("Curve: < 1 lifts, > 1 deepens")] = 1.0,
    gain: Annotated[float, Range(0, 8, 0.01), Help("Multiplier after the curve")] = 1.0,
    invert: Annotated[bool, Help("Flip the result (1 - v)")] = False,
) -> Field:
    """Reshape a field or depth map through a curve: band, levels, gamma, gain, invert."""
    v = source.values
    if band_width > 0:
        v = 1.0 - np.minimum(np.abs(v - band_centre) / band_width, 1.0)
    span = max(high - low, 1e-6)
    v = np.clip((v - low) / span, 0.0, 1.0)
    if gamma != 1.0:
        v = np.power(v, gamma)
    if gain != 1.0:
        v = np.clip(v * gain, 0.0, 1.0)
    if invert:
        v = 1.0 - v
    return Field(np.asarray(v, dtype=np.float32))
