"""Output: writing slots to files (the sinks of a patch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np

from gateway_studio.engine import (
    Context,
    Depth,
    Faces,
    Field,
    Files,
    GatewayError,
    Help,
    Image,
    Normals,
    PointCloud,
    Range,
    SavePath,
    Slot,
    fingerprint_file,
    node,
)
from gateway_studio.engine.files import atomic_write
from gateway_studio.engine.imageio import encode_array
from gateway_studio.engine.provenance import embed as embed_provenance
from gateway_studio.engine.provenance import exr_attributes

from ._exr import SUFFIX as EXR
from ._exr import exr_bytes

_RASTER = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: The files that carry their patch (``gateway_studio.engine.provenance``).
_CARRIERS = (*_RASTER, EXR)
#: Which file kinds each slot type can be written as (.exr: ``nodes/_exr.py``).
FORMATS: dict[str, tuple[str, ...]] = {
    "Image": (*_RASTER, EXR),
    "Depth": (".png", ".tif", ".tiff", ".npy", EXR),
    "Field": (*_RASTER, ".npy", EXR),
    "Mask": (*_RASTER, ".npy", EXR),
    "Normals": (".png", ".tif", ".tiff", EXR),
    "Faces": (".json",),
    "PointCloud": (".ply",),
}


def ply_bytes(cloud: PointCloud) -> bytes:
    """Binary little-endian PLY with float xyz and uchar rgb (Blender, MeshLab open it)."""
    n = len(cloud.points)
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment frame {cloud.frame}; unit {cloud.unit}\n"
        f"element vertex {n}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\n"
        "end_header\n"
    ).encode("ascii")
    record = np.dtype([("xyz", "<f4", 3), ("rgb", "u1", 3)])
    body = np.empty(n, dtype=record)
    body["xyz"] = cloud.points
    body["rgb"] = np.round(np.clip(cloud.colors, 0, 1) * 255).astype(np.uint8)
    return header + body.tobytes()


def check_format(slot: Slot, suffix: str, bits: int) -> None:
    """Refuse a file kind (or a bit depth) the slot cannot be written as, naming the ones
    it can."""
    allowed = FORMATS.get(slot.type_name, ())
    if suffix not in allowed:
        raise GatewayError(
            f"a {slot.type_name} cannot be written as '{suffix or 'no extension'}'; "
            f"use {', '.join(allowed)}"
        )
    if bits == 32 and suffix in _RASTER:
        raise GatewayError(f"bit_depth 32 (float) is for .exr; '{suffix}' holds 8 or 16 bit")


def slot_file_bytes(
    slot: Slot,
    suffix: str,
    *,
    bits: int,
    quality: int,
    envelope: dict[str, Any] | None = None,
) -> bytes:
    """Encode one slot as the bytes of a ``suffix`` file, carrying the provenance
    ``envelope`` where the format has room for it (``_CARRIERS``)."""
    check_format(slot, suffix, bits)
    if suffix == EXR:
        return exr_bytes(slot, bits=bits, attributes=exr_attributes(envelope))
    data = _file_bytes(slot, suffix, bits=bits, quality=quality)
    if envelope is not None and suffix in _CARRIERS:
        data = embed_provenance(data, suffix, envelope)
    return data


def _file_bytes(slot: Slot, suffix: str, *, bits: int, quality: int) -> bytes:
    if isinstance(slot, Faces):
        return (json.dumps(slot.to_json(), indent=2) + "\n").encode("utf-8")
    if isinstance(slot, PointCloud):
        return ply_bytes(slot)
    array: Any
    if isinstance(slot, Image):
        if slot.colorspace == "srgb" and slot.alpha is None:
            array = slot.data  # a decoded photo is written from its own samples
        else:  # files hold sRGB-encoded values (as the viewer shows)
            pixels = slot.srgb_pixels()
            array = pixels if slot.alpha is None else np.dstack([pixels, slot.alpha])
        bits = bits or (16 if slot.bit_depth >= 16 else 8)
    elif isinstance(slot, Normals):
        array, bits = slot.to_rgb(), bits or 8
    elif isinstance(slot, (Depth, Field)):
        if suffix == ".npy":  # Depth: NaN where there is no depth
            import io

            buf = io.BytesIO()
            values = slot.values_or_nan() if isinstance(slot, Depth) else slot.values
            np.save(buf, np.asarray(values, dtype=np.float32), allow_pickle=False)
            return buf.getvalue()
        array = slot.values  # lighter = closer for Depth: the contract's own orientation
        bits = bits or (16 if isinstance(slot, Depth) else 8)
        if isinstance(slot, Depth):  # 0 = no depth; 16 bit: 1 … 65535 = depth 0 … 1
            array = slot.to_uint16() if bits == 16 else array
            if bits != 16 and slot.valid is not None:
                array = np.where(slot.valid, array, np.float32(0.0))
    else:  # pragma: no cover - FORMATS lists every writable type
        raise GatewayError(f"cannot write a {slot.type_name}")
    return encode_array(array, suffix, bit_depth=bits, quality=quality)


# version 2: linear-light Images are sRGB-encoded when written (were written as-is: dark)
# version 3: Depth holes are written as 0 (PNG) / NaN (.npy); valid depth as 1 … 65535
# version 4: PNG / JPEG / TIFF carry the patch that made them (``provenance``)
# version 5: OpenEXR (.exr: linear half RGB(A), Depth Z in metres or inverse, Field Y,
#            Normals xyz) with the patch in its header; bit_depth 32 (float, .exr only)
@node("output.export", outputs={"files": Files}, proxy=False, version=5)
def export(
    source: Image | Depth | Field | Normals | Faces | PointCloud,
    *,
    path: Annotated[
        SavePath,
        Help(
            "Where to write; the extension picks the format: .png/.jpg/.tif for pictures "
            "(Depth: 16-bit PNG, lighter = closer, 0 = no depth), .npy for raw fields (Depth: "
            "NaN = no depth), .exr for compositors (Image: linear light, premultiplied; "
            "Depth: channel Z in metres when calibrated, +inf = no depth, else inverse "
            "depth, NaN = no depth, as the header's gatewayStudio/depthConvention says; "
            "Field: Y; Normals: R, G, B = x, y, z), .json for Faces, .ply for point clouds"
        ),
    ] = "out.png",
    bit_depth: Annotated[
        Literal["auto", "8", "16", "32"],
        Help(
            "auto: 16 bit for Depth and 16-bit sources, else 8 (JPEG is always 8); .exr: "
            "Images half float (auto or 16) or float (32), the rest always 32-bit float"
        ),
    ] = "auto",
    quality: Annotated[int, Range(1, 100, 1), Help("JPEG quality")] = 95,
    provenance: Annotated[
        Literal["full", "minimal", "none"],
        Help(
            "What PNG / JPEG / TIFF / EXR files carry of how they were made: full (the patch, "
            "paths relative to the file, the sources' content keys, the models and their "
            "licences), minimal (the same without the source paths), or none. Opening the "
            "file in Gateway Studio reopens its patch"
        ),
    ] = "full",
    ctx: Context,
) -> Files:
    """Write the connected slot to a file (format from the extension)."""
    if not path:
        raise GatewayError("no output path: set the 'path' param")
    # outside the patch's folder only with the user's consent; never onto its own input
    target: Path = ctx.resolve_save_path(path)
    bits = 0 if bit_depth == "auto" else int(bit_depth)
    suffix = target.suffix.lower()
    check_format(source, suffix, bits)
    envelope = ctx.provenance(target, provenance) if suffix in _CARRIERS else None
    data = slot_file_bytes(source, suffix, bits=bits, quality=quality, envelope=envelope)
    try:
        atomic_write(target, data)
    except OSError as exc:
        raise GatewayError(f"cannot write {target}: {exc.strerror or exc}") from None
    return Files((str(target),), (fingerprint_file(target),))
