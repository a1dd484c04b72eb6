"""Depth that phones store inside the photo.

* **HEIC / HEIF auxiliary depth** (Apple portrait photos; ISO/IEC 23008-12 auxiliary
  image with a depth representation info). pillow-heif exposes it as
  ``info["depth_images"]``, with ``representation_type``, ``d_min``, ``d_max`` in its
  metadata. The types are those of the depth representation info SEI (ISO/IEC 14496-10
  / 23008-2): 0 = uniformly quantised *inverse* Z, 1 = uniformly quantised *disparity*,
  2 = uniformly quantised depth *Z*, 3 = non-uniform (a table we do not read). Each
  sample v ∈ [0, max] maps linearly onto [d_min, d_max]. Apple writes type 1 with d_min
  / d_max in 1/metres (AVDepthData's disparity is 1/m), so type 0 and 1 are calibrated
  inverse metres and type 2 metres.
* **Google GDepth JPEG** (Android "lens blur", Tango): XMP namespace
  ``http://ns.google.com/photos/1.0/depthmap/`` with ``Format`` RangeInverse or
  RangeLinear, ``Near`` / ``Far`` (in ``Units``, default metres), ``Mime`` and the
  base64 ``Data`` image (often in Adobe's extended XMP, split over APP1 segments). A
  stored value n ∈ [0, 1] (sample / max) is: RangeLinear d = n·(far − near) + near;
  RangeInverse d = far·near / (far − n·(far − near)). The map is stretched to fit the
  photo (the spec's rule).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage

from gateway_studio.engine import Depth, GatewayError
from gateway_studio.engine.imageio import ensure_heif, open_pil

_GDEPTH_NS = "http://ns.google.com/photos/1.0/depthmap/"
_XMP_MAIN = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"
_UNITS = {"m": 1.0, "mm": 0.001, "cm": 0.01}


@dataclass(frozen=True)
class EmbeddedDepth:
    depth: Depth
    #: EXIF orientation of the photo the depth belongs to (1 = as stored).
    orientation: int
    how: str


# ------------------------------------------------------------------------- HEIC
def heic_depth(path: Path) -> EmbeddedDepth | None:
    """The first auxiliary depth image of a HEIF file, or None if it has none."""
    ensure_heif()
    import pillow_heif

    try:
        heif = pillow_heif.open_heif(str(path), convert_hdr_to_8bit=False)
    except (ValueError, OSError, RuntimeError) as exc:
        raise GatewayError(f"{path}: not a readable HEIF file ({exc})") from None
    images = heif.info.get("depth_images") or []
    if not images:
        return None
    aux = images[0]
    meta: dict[str, Any] = dict(aux.info.get("metadata") or {})
    samples = np.asarray(aux)
    if samples.ndim == 3:
        samples = samples[..., 0]
    peak = 255.0 if samples.dtype == np.uint8 else float(np.iinfo(samples.dtype).max)
    kind = int(meta.get("representation_type", -1))
    d_min, d_max = float(meta.get("d_min", 0.0)), float(meta.get("d_max", 0.0))
    if kind not in (0, 1, 2):
        raise GatewayError(
            f"{path}: its depth image uses representation type {kind} (non-uniform or "
            "unknown), which Gateway Studio does not read"
        )
    linear = d_min + samples.astype(np.float32) / peak * (d_max - d_min)
    how = f"HEIC depth image {samples.shape[1]}x{samples.shape[0]}, type {kind}"
    if kind == 2 and d_max > d_min > 0:  # depth Z in metres
        depth = Depth.from_metric(linear, convention="heic-depth")
    elif d_max > d_min > 0:  # inverse Z / disparity in 1/m: metres are 1/value
        depth = Depth.from_metric(1.0 / linear, convention="heic-disparity")
    else:  # no usable range: relative, larger sample = nearer (inverse or disparity)
        depth = Depth.from_inverse(samples.astype(np.float32), convention="heic-relative")
    return EmbeddedDepth(depth, _orientation_of(heif.info.get("exif")), how)


def _orientation_of(exif: bytes | None) -> int:
    """The EXIF orientation pillow-heif left in the primary image's metadata."""
    if not exif:
        return 1
    parsed = PILImage.Exif()
    parsed.load(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    return int(parsed.get(0x0112, 1) or 1)


# ------------------------------------------------------------------------- GDepth
def jpeg_xmp_packets(data: bytes) -> tuple[list[bytes], bytes]:
    """The main XMP packets and the reassembled extended XMP of a JPEG file."""
    main: list[bytes] = []
    chunks: dict[int, bytes] = {}
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: no metadata after it
            break
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and body.startswith(_XMP_MAIN):
            main.append(body[len(_XMP_MAIN) :])
        elif marker == 0xE1 and body.startswith(_XMP_EXT):
            rest = body[len(_XMP_EXT) :]  # GUID (32) · full length (4) · offset (4) · data
            offset = int.from_bytes(rest[36:40], "big")
            chunks[offset] = rest[40:]
        pos += 2 + length
    extended = b"".join(chunks[k] for k in sorted(chunks))
    return main, extended


def _xmp_property(xmp: str, name: str) -> str | None:
    """GDepth:``name`` as an attribute or an element, in any prefix bound to the ns."""
    prefixes = set(re.findall(r'xmlns:(\w+)="' + re.escape(_GDEPTH_NS) + '"', xmp)) or {"GDepth"}
    for prefix in prefixes:
        attr = re.search(rf'{prefix}:{name}\s*=\s*"([^"]*)"', xmp)
        if attr:
            return attr.group(1)
        elem = re.search(rf"<{prefix}:{name}>([^<]*)</{prefix}:{name}>", xmp)
        if elem:
            return elem.group(1)
    return None


def gdepth(path: Path) -> EmbeddedDepth | None:
    """The GDepth map of a JPEG, or None if it has none."""
    data = path.read_bytes()
    if not data.startswith(b"\xff\xd8"):
        return None
    main, extended = jpeg_xmp_packets(data)
    xmp = " ".join(p.decode("utf-8", "replace") for p in [*main, extended])
    if _GDEPTH_NS not in xmp:
        return None
    fmt = _xmp_property(xmp, "Format") or "RangeInverse"
    near, far = (_xmp_property(xmp, k) for k in ("Near", "Far"))
    payload = _xmp_property(xmp, "Data")
    if payload is None or near is None or far is None:
        raise GatewayError(f"{path}: its GDepth metadata lacks Data, Near or Far")
    unit = _UNITS.get((_xmp_property(xmp, "Units") or "m").strip(), 1.0)
    near_m, far_m = float(near) * unit, float(far) * unit
    if not 0 < near_m < far_m:
        raise GatewayError(f"{path}: GDepth Near {near} / Far {far} is not a valid range")
    try:
        with PILImage.open(io.BytesIO(base64.b64decode(payload))) as img:
            samples = np.asarray(img.convert("I;16") if img.mode in ("I", "I;16") else img)
    except (ValueError, OSError) as exc:
        raise GatewayError(f"{path}: its GDepth Data is not a readable image ({exc})") from None
    if samples.ndim == 3:
        samples = samples[..., 0]
    n = samples.astype(np.float32) / (255.0 if samples.dtype == np.uint8 else 65535.0)
    if fmt == "RangeLinear":
        metres = n * (far_m - near_m) + near_m
    elif fmt == "RangeInverse":
        metres = far_m * near_m / (far_m - n * (far_m - near_m))
    else:
        raise GatewayError(f"{path}: unknown GDepth Format {fmt!r}")
    depth = Depth.from_metric(metres, convention=f"gdepth-{fmt}")
    how = f"GDepth {fmt} {samples.shape[1]}x{samples.shape[0]}, {near_m:g}–{far_m:g} m"
    with open_pil(path) as photo:
        orientation = int(photo.getexif().get(0x0112, 1) or 1)
    return EmbeddedDepth(depth, orientation, how)


def embedded_depth(path: Path) -> EmbeddedDepth:
    """The depth a photo carries, or a one-paragraph error saying it carries none."""
    suffix = path.suffix.lower()
    found = heic_depth(path) if suffix in (".heic", ".heif", ".hif") else gdepth(path)
    if found is None:
        raise GatewayError(
            f"{path}: this photo holds no depth map (looked for an HEIC auxiliary depth "
            "image and Google's GDepth XMP). Portrait-mode photos from iPhones (HEIC) and "
            "Android 'lens blur' JPEGs carry one; otherwise estimate depth with "
            "depth.estimate or read a depth file with depth.from_file"
        )
    return found


def orient(values: NDArray[Any], orientation: int) -> NDArray[Any]:
    """Apply an EXIF orientation to a map (as the photo's pixels get it)."""
    from gateway_studio.engine.imageio import apply_orientation

    return apply_orientation(values, orientation)
