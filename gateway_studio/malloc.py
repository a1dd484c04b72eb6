"""Tell glibc's allocator to keep big freed buffers instead of returning them to the OS.

Every knob step allocates and frees full-frame float32 images (8–25 MB each). By default
glibc serves those with fresh ``mmap``s and gives them back on ``free``, so each
evaluation pays ~10⁵ page faults zeroing new pages. Raising the mmap and trim
thresholds lets those buffers be reused: measured here, 1080p modulation nodes ran
25–30 % faster (drawing 62 → 42 ms, isolate 58 → 39 ms) for ~100–200 MB more resident
memory kept between evaluations. Process-wide, so it is set once by the entry point,
never by a node or the engine. No effect (and no error) off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1 << 30


def keep_freed_buffers() -> bool:
    """Raise glibc's mmap/trim thresholds; True if the allocator accepted both."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc: leave it alone
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    ok_trim = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(ok_mmap and ok_trim)
