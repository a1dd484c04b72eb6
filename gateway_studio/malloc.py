"""Tell glibc's allocator to reuse big freed buffers instead of mapping fresh pages.

Every evaluation allocates and frees full-frame float32 images (8–25 MB at 1080p, 400 MB
for a 33 MP RGB frame). By default glibc serves blocks over its mmap threshold with fresh
``mmap``s and unmaps them on ``free``, so each new frame is zeroed page by page on first
touch. Measured on this machine:

* 1080p modulation nodes ran 25–30 % faster with the thresholds raised (drawing 62 → 42
  ms, isolate 58 → 39 ms): their frames come from the heap and are reused.
* Above 32 MiB glibc maps afresh whatever the threshold says (that is the threshold's
  maximum on 64-bit). A fresh 400 MB frame cost 250–340 ms of 4 KiB page faults, or
  70–120 ms as transparent huge pages with stalls of 0.4–1.6 s when the kernel compacts
  memory to find them (numpy asks for huge pages; ``defrag=madvise`` compacts on the
  fault). ``modulate.isolate`` at 7680×4320 went from 46.5 to 28.5 ms/MP with those
  frames served from the heap (its 2 MP figure: 29.5 / 26.9), so its cost per pixel
  stopped growing with the picture.

So: no ``mmap`` for blocks (``M_MMAP_MAX`` 0), one arena (``M_ARENA_MAX`` 1: glibc's
per-thread arenas map any block over 64 MB regardless, and the app evaluates on a worker
thread), and freed memory kept up to 1 GB at the heap's top. What that costs is memory
that stays resident after a big render; ``give_back`` returns it (``malloc_trim``) once a
full-resolution job is over. Process-wide, so it is set once by the entry point before
any thread starts, never by a node or the engine. No effect (and no error) off glibc.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 32 << 20  # glibc's maximum on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1 << 30
#: The same settings as glibc's environment variables, read at a process's start: for
#: worker processes we spawn (engine/farm.py), whose threads exist before our code runs.
ENVIRON = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_ARENA_MAX": "1",
}


def _libc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols (libc's among them): no ``ctypes.util.find_library``,
        # whose import (subprocess and more) cost every command-line start ~10 ms
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.malloc_trim.restype = ctypes.c_int
    except (OSError, AttributeError):  # musl or another libc: leave it alone
        return None
    return libc


def keep_freed_buffers() -> bool:
    """Serve big blocks from one heap and keep them when freed; True if glibc took it all."""
    libc = _libc()
    if libc is None:
        return False
    settings = (
        (_M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (_M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (_M_MMAP_MAX, 0),
        (_M_ARENA_MAX, 1),
    )
    return all([bool(libc.mallopt(option, value)) for option, value in settings])


def give_back() -> bool:
    """Return the heap's free pages to the OS (``malloc_trim(0)``): after a full-resolution
    job, so a 45 MP export's frames do not stay resident while the artist drags knobs on
    the proxy. True if glibc released anything."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))
