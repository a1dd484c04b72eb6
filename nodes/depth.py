"""Depth: estimating and reading inverse depth (the ``Depth`` slot; 1 = nearest)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np

from gateway_studio.engine import Context, Depth, FilePath, GatewayError, Help, Range, node
from gateway_studio.engine.imageio import open_pil


@node("depth.from_file", outputs={"depth": Depth}, proxy=False)
def from_file(
    *,
    path: Annotated[FilePath, Help("Depth map: 8/16-bit PNG/TIFF or float .npy")] = "",
    convention: Annotated[
        Literal["inverse", "disparity", "metric"],
        Help(
            "What the file's values mean: inverse depth (lighter = nearer), disparity "
            "(larger = nearer) or metric depth (larger = farther)"
        ),
    ] = "inverse",
    scale: Annotated[
        float, Range(1e-6, 1e6), Help("Multiplier from stored values to metres/pixels")
    ] = 1.0,
    invert: Annotated[bool, Help("Flip near and far after reading (for mislabelled files)")] = False,
    normalisation: Annotated[
        Literal["minmax", "percentile"],
        Help("How raw values map to [0, 1]: per-image min–max or robust 1–99 percentiles"),
    ] = "minmax",
    ctx: Context,
) -> Depth:
    """Read a depth map from a file and convert it to the Depth convention."""
    if not path:
        raise GatewayError("no depth file chosen: set the 'path' param")
    file = ctx.resolve_path(path)
    if file.suffix.lower() == ".npy":
        try:
            raw = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GatewayError(f"{file}: not a readable .npy array ({exc})") from None
        if raw.ndim == 3 and raw.shape[2] == 1:
            raw = raw[..., 0]
        if raw.ndim != 2:
            raise GatewayError(f"{file}: expected a 2-D depth array, got shape {raw.shape}")
        values = raw.astype(np.float64) * scale
        if convention == "metric":
            depth = Depth.from_metric(values, normalisation=normalisation)
        elif convention == "disparity":
            depth = Depth.from_disparity(values, normalisation=normalisation)
        else:
            depth = Depth.from_inverse(values, normalisation=normalisation)
    else:
        img = open_pil(file)
        arr = np.asarray(img)
        if arr.ndim == 3:
            arr = arr[..., 0]
        if arr.dtype not in (np.uint8, np.uint16):
            arr = np.clip(arr, 0, 65535).astype(np.uint16)
        kwargs = {} if convention == "inverse" else {"normalisation": normalisation}
        depth = Depth.from_encoded(arr, convention=convention, scale=scale, **kwargs)
    if invert:
        depth = Depth(
            (1.0 - depth.values).astype(np.float32),
            depth.source_convention + "+inverted",
            depth.raw_range,
            depth.normalisation,
        )
    return depth
