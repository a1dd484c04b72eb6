"""Work on a frame a band of rows at a time: bounded memory at any resolution.

A full-frame node that chains a dozen numpy / OpenCV passes makes a dozen full-frame
temporaries. At 2 MP they fit in the L3 cache and glibc reuses their memory; at 33 MP each
is 130–400 MB, glibc ``mmap``s every one afresh (its mmap threshold is 32 MiB at most) and
the kernel zeroes it page by page, so the cost per megapixel doubles and the peak memory is
ten frames. Run the same passes on bands of ``BAND_PIXELS`` pixels instead: every
temporary is a band (about 1.5 MB for float32 RGB), stays in the cache, comes from the
heap, and the node holds only its output frame and whatever low-resolution state it needs.

Element-wise passes give the same numbers band by band. Neighbourhood passes read their
band with the rows of halo their kernel needs (``halo_span``), so they too give the
full-frame result; resampling between resolutions goes through ``nodes._resample``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Image

F32 = NDArray[np.float32]

#: Pixels per band: a float32 RGB band is 1.5 MB, so a node's dozen temporaries stay in the
#: L3 cache (32 MB here) and below glibc's mmap threshold. Measured on ``modulate.atmosphere``
#: at 2 and 33 MP (ms per MP): 2^15 px 16.7 / 17.7, 2^17 px 16.3 / 17.8, 2^19 px 18.3 / 22.7,
#: 2^21 px 20.5 / 30.6, the whole frame 23.7 / 32.5.
BAND_PIXELS = 1 << 17

_PEAKS: dict[Any, int] = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


#: A band that reads ``halo`` extra rows above and below it is at least this many times
#: taller than the halo, so the halo costs at most 2 / 8 = 25 % more work whatever the
#: resolution (a kernel's radius, hence its halo, grows with the frame: so must the band).
HALO_RATIO = 8


def rows_for_halo(halo: int) -> int:
    """The least band height for a pass that reads ``halo`` rows on either side."""
    return HALO_RATIO * max(int(halo), 0)


def band_rows(width: int, min_rows: int = 1) -> int:
    """How many rows of a frame ``width`` pixels wide make a band (at least ``min_rows``)."""
    return max(BAND_PIXELS // max(int(width), 1), int(min_rows), 1)


def bands(
    height: int, width: int, *, align: int = 1, min_rows: int = 1
) -> Iterator[tuple[int, int]]:
    """Row ranges [top, bottom) covering ``height`` rows, about ``BAND_PIXELS`` pixels each,
    at least ``min_rows`` tall and starting at multiples of ``align``."""
    rows = band_rows(width, min_rows)
    rows = -(-rows // align) * align
    for top in range(0, int(height), rows):
        yield top, min(top + rows, int(height))


def halo_span(top: int, bottom: int, halo: int, height: int) -> tuple[int, int]:
    """Rows [top - halo, bottom + halo) clipped to the frame."""
    return max(top - halo, 0), min(bottom + halo, height)


def image_rows(image: Image, top: int, bottom: int, step: int = 1) -> F32:
    """Rows ``top:bottom`` of ``image.pixels`` (float32, [0, 1]) converting only those rows
    from an 8/16-bit photo: the values ``pixels`` holds, bit for bit (v / peak, divided in
    float32; the tests check every sample value), without a full-frame float copy. With
    ``step``, every step-th row and column from ``top``. Read-only: never write into it."""
    data = image.data[top:bottom:step, ::step]
    peak = _PEAKS.get(data.dtype)
    if peak is None:
        return np.asarray(data, dtype=np.float32)
    return np.divide(data, np.float32(peak), dtype=np.float32)


def new_frame(height: int, width: int, channels: int = 0) -> F32:
    """An uninitialised float32 output frame, (H, W) or (H, W, C): every band writes its
    rows of it, so nothing is zeroed twice."""
    shape = (height, width) if channels == 0 else (height, width, channels)
    return np.empty(shape, dtype=np.float32)
