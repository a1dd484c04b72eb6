"""Resource limits and the environment settings that size them, validated in one place.

``GATEWAY_STUDIO_MAX_IMAGE_MB``
    Memory budget for decoding one image, in MiB (default: 25 % of physical memory, or
    of the container's memory limit when that is smaller). An image whose decoded working
    set would exceed it is refused from its header, before a pixel is decoded. A source
    file larger than the budget is refused before it is hashed (no image that large could
    decode within it), which bounds raw ``.npy`` reads too.
``GATEWAY_STUDIO_CACHE_MAX_GB``
    Size of the disk cache, in GiB (default 20; 0 keeps nothing on disk).

A value that is not a finite, non-negative number is a ``SettingError``: one line that
names the variable and the value, which the command line prints with exit code 2.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import GatewayError, ImageReadError

IMAGE_BUDGET_ENV = "GATEWAY_STUDIO_MAX_IMAGE_MB"
CACHE_MAX_ENV = "GATEWAY_STUDIO_CACHE_MAX_GB"
#: Share of physical memory one image may take by default.
DEFAULT_IMAGE_SHARE = 0.25
DEFAULT_CACHE_GB = 20.0
#: When the platform does not say how much memory it has.
_FALLBACK_MEMORY = 8 << 30


class SettingError(GatewayError):
    """An environment setting has a value Gateway Studio cannot use."""


def _env_number(name: str, unit: str, *, positive: bool) -> float | None:
    """The variable as a finite number (None when unset or empty); SettingError if not."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return None
    bound = "a positive" if positive else "a non-negative"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise SettingError(f"{name}={text!r} is not valid: expected {bound} number of {unit}")
    return value


def _cgroup_limit() -> int | None:
    """The memory limit of the container we run in (cgroup v2 or v1), if there is one."""
    for file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(file).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number: no limit
            return int(text)
    return None


def physical_memory() -> int:
    """Bytes of memory this process can expect to use: RAM, or the container's limit."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = _FALLBACK_MEMORY
    limit = _cgroup_limit()
    return min(total, limit) if limit else total


def image_budget_bytes() -> int:
    """The memory one decoded image may take (``GATEWAY_STUDIO_MAX_IMAGE_MB``)."""
    mb = _env_number(IMAGE_BUDGET_ENV, "MiB", positive=True)
    if mb is None:
        return int(physical_memory() * DEFAULT_IMAGE_SHARE)
    return int(mb * (1 << 20))


def cache_max_bytes() -> int:
    """Size of the disk cache (``GATEWAY_STUDIO_CACHE_MAX_GB``)."""
    gb = _env_number(CACHE_MAX_ENV, "GiB", positive=False)
    return int((DEFAULT_CACHE_GB if gb is None else gb) * (1 << 30))


CACHE_KEEP_ENV = "GATEWAY_STUDIO_CACHE_KEEP"


def cache_keeps_everything() -> bool:
    """``GATEWAY_STUDIO_CACHE_KEEP``: "auto" (default) persists what pays for itself
    (``cache.worth_persisting``); "all" persists every full-resolution result — for a
    render farm sharing one cache, or to inspect a bundle."""
    text = (os.environ.get(CACHE_KEEP_ENV) or "auto").strip().lower()
    if text not in ("auto", "all"):
        raise SettingError(f"{CACHE_KEEP_ENV}={text!r} is not valid: expected 'auto' or 'all'")
    return text == "all"


def check_settings() -> None:
    """Raise ``SettingError`` for the first invalid setting (called at start-up)."""
    image_budget_bytes()
    cache_max_bytes()
    cache_keeps_everything()


def describe_bytes(n: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def image_working_set(width: int, height: int, channels: int, bytes_per_sample: int) -> int:
    """Bytes one image takes at its peak, decoded and first computed on.

    The decoded samples three times (the file's bytes, which a hostile file keeps as
    large as its pixels; the decoder's buffer; the slot's own copy), two float32 planes
    per output channel (what the first node computes on, and a temporary) and 8 bytes a
    pixel of decoder bookkeeping (Pillow keeps RGB as 32-bit pixels). It errs on the safe
    side: decoding alone peaks at 30-50 % of it for incompressible 2500 × 2500 PNGs (8-bit
    grey, RGB, RGBA, 16-bit RGB; ``tests/reliability/test_hostile_images.py``), and at
    68-86 % when the slot itself held float32 samples."""
    pixels = max(int(width), 0) * max(int(height), 0)
    out_channels = 4 if channels in (2, 4) else 3
    per_pixel = 3 * channels * bytes_per_sample + 8 * out_channels + 8
    return pixels * per_pixel


def check_image_budget(
    path: str | os.PathLike[str],
    width: int,
    height: int,
    channels: int,
    bytes_per_sample: int,
) -> None:
    """Refuse (``ImageReadError``) an image whose decoded working set exceeds the budget.

    Every image reader calls this with the header's size and sample layout *before* it
    decodes; the message names the image, its size, the need and the setting."""
    need = image_working_set(width, height, channels, bytes_per_sample)
    budget = image_budget_bytes()
    if need > budget:
        raise ImageReadError(
            f"{path}: refused, a {width}×{height} image ({channels} channel(s), "
            f"{8 * bytes_per_sample} bit) needs about {describe_bytes(need)} to decode, more "
            f"than the image memory budget of {describe_bytes(budget)} "
            f"(set {IMAGE_BUDGET_ENV} to raise it; default 25 % of physical memory)"
        )
