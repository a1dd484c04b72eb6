"""OpenEXR files from slots, written the way a compositor (Nuke, Fusion, Blender) reads them.

Every file is one single-part scanline image, ZIP-compressed (lossless), with these
channels:

* ``Image`` → ``R``, ``G``, ``B`` (and ``A``) in **linear light**: EXR is scene-linear by
  convention, so an sRGB image is decoded through ``srgb_decode`` (the IEC 61966-2-1
  curve, beside ``srgb_encode`` in ``engine/image_slot.py``); a linear image is written as
  it is. Colour is premultiplied by alpha, as OpenEXR defines RGBA. Half float (16 bit) by
  default (``bit_depth`` auto or 16), what compositors expect of colour: 11 significant
  bits, finer than an 8-bit photo's steps everywhere but coarser than a 16-bit photo's
  near white; ``bit_depth`` 32 writes 32-bit float and keeps those.
* ``Depth`` → one float32 channel ``Z`` (Nuke reads a single-part file's ``Z`` as
  ``depth.Z``, the channel ZDefocus and the other depth nodes take by default). What it
  holds is named by the header attribute ``gatewayStudio/depthConvention``:

  - calibrated (the slot has ``metric_range``): ``DISTANCE_METRES``, the distance along
    the optical axis in metres from ``Depth.to_distance`` (ZDefocus ``math``: depth).
    No depth = **+inf**: a renderer's "no hit", what Nuke's own 1/z depth (0 = infinitely
    far) inverts to; NaN would spread through every filter a compositor runs.
  - relative (no metres): ``INVERSE``, the slot's own values, 1 = nearest, 0 = farthest
    (larger = nearer like Nuke's own 1/z depth: ZDefocus ``math`` far = 0; linear in 1/z
    except for affine-invariant sources, whose Depth says so). No depth = **NaN** (0 is a
    measured value here).

  ``depth.from_file`` reads the attribute back, so both round-trip.
* ``Field`` / ``Mask`` → one float32 channel ``Y`` (a luminance image to any EXR reader).
* ``Normals`` → float32 ``R``, ``G``, ``B`` = the unit vector's x, y, z (not the
  (n + 1) / 2 of a PNG), in the frame the attribute ``gatewayStudio/normalsFrame`` names.

Provenance travels as one more string attribute (``provenance.exr_attributes``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Depth, Field, GatewayError, Image, Normals, Slot

SUFFIX = ".exr"
#: Header attribute saying what a Depth file's ``Z`` holds (one of the two below).
DEPTH_CONVENTION = "gatewayStudio/depthConvention"
DISTANCE_METRES = "distance, metres; +inf = no depth"
INVERSE = "inverse, 1 = nearest; NaN = no depth"
#: Header attribute naming the frame of a Normals file's vectors.
NORMALS_FRAME = "gatewayStudio/normalsFrame"
#: Rows converted at a time: the float32 temporaries of an Image stay a strip.
_ROWS = 256


def _image_channels(image: Image, bits: int) -> dict[str, NDArray[Any]]:
    if bits not in (0, 16, 32):
        raise GatewayError(
            f"OpenEXR holds half (bit_depth 16, the default) or float (32) samples, not {bits}-bit"
        )
    h, w = image.size
    planes = np.empty((3, h, w), np.float32 if bits == 32 else np.float16)
    for top in range(0, h, _ROWS):
        rows = image.linear_rows(top, top + _ROWS)
        if image.alpha is not None:  # OpenEXR's RGBA is premultiplied
            rows = rows * image.alpha[top : top + _ROWS, :, None]
        planes[:, top : top + _ROWS] = np.moveaxis(rows, -1, 0)
    channels = {"R": planes[0], "G": planes[1], "B": planes[2]}
    if image.alpha is not None:
        channels["A"] = np.asarray(image.alpha, dtype=planes.dtype)
    return channels


def _depth_z(depth: Depth) -> tuple[NDArray[np.float32], str]:
    """(what ``Z`` holds, its ``DEPTH_CONVENTION``): metres when the slot has them."""
    if depth.metric_range is None:
        return depth.values_or_nan(), INVERSE
    metres = depth.to_distance().values
    if depth.valid is not None:
        metres = np.where(depth.valid, metres, np.float32(np.inf))
    return np.asarray(metres, dtype=np.float32), DISTANCE_METRES


def exr_channels(slot: Slot, bits: int) -> tuple[dict[str, NDArray[Any]], dict[str, str]]:
    """(channels by name, header attributes) of ``slot`` as an OpenEXR file (see above)."""
    if isinstance(slot, Image):
        return _image_channels(slot, bits), {}
    if bits not in (0, 32):
        raise GatewayError(
            f"a {slot.type_name} is written to .exr as 32-bit float: use bit_depth auto or 32"
        )
    if isinstance(slot, Depth):
        z, convention = _depth_z(slot)
        return {"Z": z}, {DEPTH_CONVENTION: convention}
    if isinstance(slot, Field):
        return {"Y": np.array(slot.values, dtype=np.float32)}, {}
    if isinstance(slot, Normals):
        xyz = np.moveaxis(np.asarray(slot.vectors, dtype=np.float32), -1, 0)
        return {"R": xyz[0].copy(), "G": xyz[1].copy(), "B": xyz[2].copy()}, {
            NORMALS_FRAME: slot.frame
        }
    raise GatewayError(f"a {slot.type_name} cannot be written as .exr")


def exr_bytes(slot: Slot, *, bits: int, attributes: Mapping[str, str]) -> bytes:
    """The bytes of ``slot`` as a ZIP-compressed scanline OpenEXR file whose header also
    holds ``attributes`` (strings, e.g. the provenance envelope)."""
    try:
        import OpenEXR
    except ImportError:
        raise GatewayError(
            "writing .exr needs the OpenEXR package (pip install OpenEXR, or the 'formats' extra)"
        ) from None
    channels, extra = exr_channels(slot, bits)
    header: dict[str, Any] = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        **extra,
        **attributes,
    }
    # the binding writes to a path (streams only in its newest releases): a private folder
    with tempfile.TemporaryDirectory(prefix="gateway-studio-exr-") as folder:
        path = Path(folder) / f"out{SUFFIX}"
        try:
            OpenEXR.File(header, channels).write(str(path))
        except Exception as exc:  # the binding raises plain Exceptions
            raise GatewayError(f"could not encode an OpenEXR file ({exc})") from None
        return path.read_bytes()
