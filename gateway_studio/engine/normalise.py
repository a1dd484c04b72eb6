"""Raw per-pixel values → [0, 1]: the arithmetic of ``Depth``'s constructors.

Min–max, robust percentiles or a fixed raw range, computed on the valid pixels only;
holes take the shared fill (``holes.fill_nearest``). The order of the values is kept:
the top of the range becomes 1.0, the bottom 0.0, values beyond are clipped. Which raw
quantity goes in — so that 1.0 is the nearest — is decided only by the ``Depth.from_*``
constructors in ``slots``, the one place the depth convention lives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError
from .holes import fill_nearest
from .slot_base import FloatArray


def normalise(
    raw: NDArray[np.float32],
    valid: NDArray[Any] | None,
    normalisation: str,
    fixed_range: tuple[float, float] | None,
    percentiles: tuple[float, float],
) -> tuple[FloatArray, NDArray[np.bool_] | None, tuple[float, float], tuple[float, float]]:
    """Raw values, larger = nearer (inverse depth) → (values in [0, 1] with holes
    filled, validity or None, (lo, hi) raw values of depth 0 and 1, (min, max) of the
    valid raw values)."""
    ok = np.isfinite(raw)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    if not ok.any():
        raise SlotError("Depth: the map has no valid pixel")
    everywhere = bool(ok.all())
    raw_lo = float(raw.min(where=ok, initial=np.inf))
    raw_hi = float(raw.max(where=ok, initial=-np.inf))
    if normalisation == "minmax":
        lo, hi = raw_lo, raw_hi
    elif normalisation == "percentile":
        lo, hi = (float(v) for v in np.percentile(raw[ok], percentiles))
    elif normalisation == "fixed":
        if fixed_range is None:
            raise SlotError("Depth: normalisation 'fixed' needs fixed_range=(near, far)")
        lo, hi = float(fixed_range[0]), float(fixed_range[1])
    else:
        raise SlotError(f"Depth: unknown normalisation {normalisation!r}")
    span = hi - lo
    values = np.zeros(raw.shape, dtype=np.float32)
    if span > 0:  # (raw − lo) / span, in place, on the valid pixels only
        np.subtract(raw, np.float32(lo), out=values, where=ok)
        values *= np.float32(1.0 / span)
        np.clip(values, 0.0, 1.0, out=values)
    if everywhere:
        return values, None, (lo, hi), (raw_lo, raw_hi)
    return fill_nearest(values, ok), ok, (lo, hi), (raw_lo, raw_hi)
