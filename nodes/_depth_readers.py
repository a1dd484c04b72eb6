"""Reading depth files as they are written in the wild, each by its documented rule.

One function per container, and one table of presets for the 16-bit PNG/PGM encodings
that sensors and datasets use. Every reader returns the file's raw values in one named
convention (inverse / disparity / metric metres) with a validity mask; turning them into
the ``Depth`` contract is the slot constructors' job, never this module's.

Presets (``encoding``):

* ``kinect-mm`` — 16-bit PNG in millimetres, 0 = invalid (RealSense, Azure Kinect, most
  RGB-D apps): metres = v / 1000.
* ``tum`` — TUM RGB-D: metres = v / 5000, 0 = invalid.
* ``sun-rgbd`` — SUN RGB-D: the 16 bits are rotated by 3, v' = (v >> 3) | (v << 13),
  then metres = v' / 1000; 0 = invalid.
* ``nyu-raw`` — NYU Depth V2 raw Kinect frames: 16-bit *little-endian* PGM,
  metres = 351.3 / (1092.5 − raw); raw ≥ 1092 is invalid.
* ``auto`` — by extension: ``.exr`` OpenEXR Z/depth channel (metres, larger = farther;
  inf, ≤ 0 or ≥ 1e9 — the renderers' background — invalid; a file whose
  ``gatewayStudio/depthConvention`` says "inverse" — Gateway Studio's own export of an
  uncalibrated Depth — is inverse depth, NaN invalid); ``.pfm`` Middlebury
  disparity (inf = invalid); ``.npy`` and float ``.tif`` in the ``convention`` param
  (NaN = invalid); 8/16-bit PNG/TIFF/PGM in the ``convention`` param (×``scale`` for
  metric; 0 = invalid for 16-bit inverse, disparity and metric).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import GatewayError
from gateway_studio.engine.imageio import MAX_PIXELS, open_pil
from gateway_studio.engine.limits import check_image_budget

from ._exr import DEPTH_CONVENTION

Convention = Literal["inverse", "disparity", "metric"]
ENCODINGS = ("auto", "kinect-mm", "tum", "sun-rgbd", "nyu-raw")
#: OpenEXR channels that hold depth, best first (Nuke "depth.Z", Blender "Depth.V" /
#: "ViewLayer.Depth.Z", plain "Z").
_EXR_DEPTH = re.compile(r"(^|\.)(z|depth(\.[vz])?|distance)$", re.IGNORECASE)
#: Renderers write "no hit" as a huge distance (Blender 1e10, some 3.4e38).
RENDER_BACKGROUND = 1e9


@dataclass(frozen=True)
class RawDepth:
    """A depth file's values in one convention, before normalisation."""

    values: NDArray[np.float32]
    convention: Convention
    valid: NDArray[np.bool_]
    #: What was read and how, for the Depth's provenance ("tum: value / 5000 m").
    how: str
    #: 8/16-bit inverse maps already hold depth in [0, 1]: 'auto' keeps those values.
    stored_unit: bool = False


def _refuse_size(path: Path, height: int, width: int, bytes_per_sample: int = 4) -> None:
    """Refuse, from the header, a map that is no sane size or would not fit the image
    memory budget (``limits.check_image_budget``) — before a sample is decoded."""
    if height * width > MAX_PIXELS or height <= 0 or width <= 0:
        raise GatewayError(f"{path}: refused, {width}x{height} is not a sane depth map size")
    check_image_budget(path, width, height, 1, bytes_per_sample)


def read_netpbm(path: Path, *, little_endian: bool = False) -> NDArray[Any]:
    """A binary PGM (P5). Samples of 2 bytes are big-endian by the Netpbm spec; NYU's
    raw Kinect frames break it and are little-endian."""
    data = path.read_bytes()
    match = re.match(rb"P5\s+(?:#.*\s+)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    if match is None:
        raise GatewayError(f"{path}: not a binary PGM (P5) file")
    width, height, maxval = (int(g) for g in match.groups())
    _refuse_size(path, height, width, 1 if maxval < 256 else 2)
    dtype = np.dtype("u1") if maxval < 256 else np.dtype("<u2" if little_endian else ">u2")
    count = width * height
    body = np.frombuffer(data, dtype=dtype, count=-1, offset=match.end())
    if body.size < count:
        raise GatewayError(f"{path}: truncated PGM ({body.size} of {count} samples)")
    return body[:count].reshape(height, width).astype(dtype.newbyteorder("="))


def read_pfm(path: Path) -> NDArray[np.float32]:
    """A PFM (Middlebury's disparity format): rows stored bottom to top; a negative
    scale means little-endian; 'PF' files are RGB (the first channel is read)."""
    data = path.read_bytes()
    match = re.match(rb"(P[Ff])\s+(\d+)\s+(\d+)\s+(-?[\d.eE+-]+)\s", data)
    if match is None:
        raise GatewayError(f"{path}: not a PFM file")
    channels = 3 if match.group(1) == b"PF" else 1
    width, height = int(match.group(2)), int(match.group(3))
    _refuse_size(path, height, width)
    dtype = np.dtype("<f4" if float(match.group(4)) < 0 else ">f4")
    count = width * height * channels
    body = np.frombuffer(data, dtype=dtype, count=-1, offset=match.end())
    if body.size < count:
        raise GatewayError(f"{path}: truncated PFM ({body.size} of {count} values)")
    grid = body[:count].reshape(height, width, channels)[..., 0]
    return np.flipud(grid).astype(np.float32)


def read_exr_depth(path: Path) -> tuple[NDArray[np.float32], str, str]:
    """The depth channel of an OpenEXR file (Z, depth.Z, Depth.V, ...), its name, and the
    file's ``gatewayStudio/depthConvention`` ("" when it has none: metres)."""
    try:
        import OpenEXR
    except ImportError:
        raise GatewayError(
            f"{path}: reading .exr needs the OpenEXR package (pip install OpenEXR)"
        ) from None
    try:  # the header first: the size is refused before any pixel is decoded
        header = OpenEXR.File(str(path), header_only=True).header()
        (x0, y0), (x1, y1) = header["dataWindow"]
    except Exception as exc:  # the binding raises plain Exceptions for bad files
        raise GatewayError(f"{path}: not a readable OpenEXR file ({exc})") from None
    _refuse_size(path, int(y1 - y0 + 1), int(x1 - x0 + 1))
    try:
        exr = OpenEXR.File(str(path), separate_channels=True)
        channels = {name: ch.pixels for name, ch in exr.channels().items()}
    except Exception as exc:  # the binding raises plain Exceptions for bad files
        raise GatewayError(f"{path}: not a readable OpenEXR file ({exc})") from None
    names = sorted((n for n in channels if _EXR_DEPTH.search(n)), key=len)
    if not names:
        raise GatewayError(
            f"{path}: no depth channel (looked for Z, *.Z, depth, Depth.V); the file has "
            f"{', '.join(sorted(channels)) or 'no channels'}"
        )
    convention = header.get(DEPTH_CONVENTION, "")
    return (
        np.asarray(channels[names[0]], dtype=np.float32),
        names[0],
        convention if isinstance(convention, str) else "",
    )


def _integer_image(path: Path) -> NDArray[Any]:
    arr = np.asarray(open_pil(path))
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr


def _marked(stored: NDArray[Any], no_data: float) -> NDArray[np.bool_]:
    """Pixels whose *stored* value is the user's ``no_data`` value (none if < 0)."""
    if no_data < 0:
        return np.zeros(stored.shape, dtype=bool)
    return np.asarray(np.isclose(stored, no_data, rtol=0.0, atol=1e-6))


def _preset(path: Path, encoding: str, no_data: float) -> RawDepth:
    """The sensor presets: integer maps with a documented formula to metres."""
    if encoding == "nyu-raw":
        stored = read_netpbm(path, little_endian=True)
        raw = stored.astype(np.float32)
        valid = (raw < 1092) & ~_marked(stored, no_data)
        metres = 351.3 / np.where(valid, 1092.5 - raw, 1.0)
        return RawDepth(metres, "metric", valid, "nyu-raw: 351.3 / (1092.5 − raw) m")
    arr = read_netpbm(path) if path.suffix.lower() == ".pgm" else _integer_image(path)
    if arr.dtype != np.uint16:
        raise GatewayError(f"{path}: the {encoding} preset reads 16-bit files, got {arr.dtype}")
    valid = ~_marked(arr, no_data)
    if encoding == "sun-rgbd":
        arr = (arr >> 3) | (arr << 13)  # uint16 arithmetic: the rotation wraps
    divisor = {"kinect-mm": 1000.0, "tum": 5000.0, "sun-rgbd": 1000.0}[encoding]
    how = {"kinect-mm": "v / 1000 m", "tum": "v / 5000 m", "sun-rgbd": "rotated bits / 1000 m"}
    return RawDepth(arr / divisor, "metric", valid & (arr > 0), f"{encoding}: {how[encoding]}")


def _float_map(
    raw: NDArray[Any], convention: Convention, scale: float, no_data: float, how: str
) -> RawDepth:
    values = np.asarray(raw, dtype=np.float32)
    if values.ndim == 3:
        values = values[..., 0]
    valid = np.isfinite(values) & ~_marked(values, no_data)
    if convention != "inverse":
        valid &= values > 0
    return RawDepth(values * scale, convention, valid, how)


def _exr(path: Path, scale: float, no_data: float) -> RawDepth:
    values, channel, written = read_exr_depth(path)
    if written.startswith("inverse"):  # our own export of a Depth without metres
        how = f"OpenEXR channel {channel} (Gateway Studio inverse depth)"
        valid = np.isfinite(values) & ~_marked(values, no_data)
        return RawDepth(values, "inverse", valid, how, stored_unit=True)
    valid = np.isfinite(values) & (values > 0) & (values < RENDER_BACKGROUND)
    valid &= ~_marked(values, no_data)
    return RawDepth(values * scale, "metric", valid, f"OpenEXR channel {channel} (m)")


def _auto(path: Path, convention: Convention, scale: float, no_data: float) -> RawDepth:
    suffix = path.suffix.lower()
    if suffix == ".exr":
        return _exr(path, scale, no_data)
    if suffix == ".pfm":
        disparity = read_pfm(path)
        valid = np.isfinite(disparity) & (disparity > 0) & ~_marked(disparity, no_data)
        return RawDepth(disparity, "disparity", valid, "PFM disparity")
    if suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise GatewayError(f"{path}: not a readable .npy array ({exc})") from None
        if raw.ndim not in (2, 3) or raw.dtype.kind not in "fiu":
            raise GatewayError(f"{path}: expected a 2-D numeric array, got {raw.shape} {raw.dtype}")
        _refuse_size(path, raw.shape[0], raw.shape[1])
        return _float_map(np.array(raw), convention, scale, no_data, f".npy {convention}")
    arr = read_netpbm(path) if suffix == ".pgm" else _integer_image(path)
    if arr.dtype.kind == "f" or arr.dtype == np.int32:  # float TIFF (or 32-bit int)
        return _float_map(arr, convention, scale, no_data, f"float image, {convention}")
    if arr.dtype not in (np.uint8, np.uint16):
        raise GatewayError(f"{path}: unsupported depth sample type {arr.dtype}")
    marked = _marked(arr, no_data)
    if convention == "inverse":
        if arr.dtype == np.uint8:
            return RawDepth(arr / 255.0, "inverse", ~marked, "8-bit inverse", True)
        values = (arr.astype(np.float32) - 1.0) / 65534.0
        return RawDepth(values, "inverse", (arr > 0) & ~marked, "16-bit inverse, 0 = none", True)
    bits = arr.dtype.itemsize * 8
    how = f"{bits}-bit {convention}" + (f" × {scale:g} m" if convention == "metric" else "")
    return RawDepth(arr * float(scale), convention, (arr > 0) & ~marked, how)


def read_depth_file(
    path: Path, *, encoding: str, convention: Convention, scale: float, no_data: float
) -> RawDepth:
    """Read ``path`` by ``encoding`` (see the module docstring). ``no_data`` ≥ 0 marks
    one more *stored* value (before any scaling) as "no depth"."""
    if encoding not in ENCODINGS:
        raise GatewayError(f"unknown depth encoding {encoding!r}; use {', '.join(ENCODINGS)}")
    if encoding == "auto":
        raw = _auto(path, convention, scale, no_data)
    else:
        raw = _preset(path, encoding, no_data)
    if not raw.valid.any():
        raise GatewayError(f"{path}: no pixel holds depth (read as {raw.how})")
    return raw
