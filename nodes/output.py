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

_RASTER = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: The files that carry their patch (``gateway_studio.engine.provenance``).
_CARRIERS = _RASTER
#: Which file kinds each slot type can be written as.
FORMATS: dict[str, tuple[str, ...]] = {
    "Image": _RASTER,
    "Depth": (".png", ".tif", ".tiff", ".npy"),
    "Field": (*_RASTER, ".npy"),
    "Mask": (*_RASTER, ".npy"),
    "Normals": (".png", ".tif", ".tiff"),
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


def slot_file_bytes(slot: Slot, suffix: str, *, bits: int, quality: int) -> bytes:
    """Encode one slot as the bytes of a ``suffix`` file."""
    allowed = FORMATS.get(slot.type_name, ())
    if suffix not in allowed:
        raise GatewayError(
            f"a {slot.type_name} cannot be written as '{suffix or 'no extension'}'; "
            f"use {', '.join(allowed)}"
        )
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
@node("output.export", outputs={"files": Files}, proxy=False, version=4)
def export(
    source: Image | Depth | Field | Normals | Faces | PointCloud,
    *,
    path: Annotated[
        SavePath,
        Help(
            "Where to write; the extension picks the format: .png/.jpg/.tif for pictures "
            "(Depth: 16-bit PNG, lighter = closer, 0 = no depth), .npy for raw fields (Depth: "
            "NaN = no depth), .json for Faces, "
            ".ply for point clouds"
        ),
    ] = "out.png",
    bit_depth: Annotated[
        Literal["auto", "8", "16"],
        Help("auto: 16 bit for Depth and 16-bit sources, else 8 (JPEG is always 8)"),
    ] = "auto",
    quality: Annotated[int, Range(1, 100, 1), Help("JPEG quality")] = 95,
    provenance: Annotated[
        Literal["full", "minimal", "none"],
        Help(
            "What PNG / JPEG / TIFF files carry of how they were made: full (the patch, "
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
    data = slot_file_bytes(source, suffix, bits=bits, quality=quality)
    envelope = ctx.provenance(target, provenance) if suffix in _CARRIERS else None
    if envelope is not None:
        data = embed_provenance(data, suffix, envelope)
    try:
        atomic_write(target, data)
    except OSError as exc:
        raise GatewayError(f"cannot write {target}: {exc.strerror or exc}") from None
    return Files((str(target),), (fingerprint_file(target),))
