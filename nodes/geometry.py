"""Geometry: surface normals, point clouds and relighting lifted from the Depth slot.

Frame (``CAMERA_FRAME``, shared with the slots): **+X right, +Y up, +Z toward the camera**;
the camera looks down −Z. Image rows grow *downwards*, so "up" is minus the row direction.

Normals treat the inverse-depth map as a height field that rises toward the camera,
``h(x, y) = strength · depth`` (depth 1 = nearest), and take its normal
``n ∝ (−∂h/∂x, −∂h/∂y, 1)`` with ``y`` pointing up. So where inverse depth grows to the
right (the right side is nearer) the surface faces left (n_x < 0); where it grows toward
the top rows (the top is nearer, like a ceiling) the surface faces down (n_y < 0); a flat
map faces the camera, (0, 0, 1).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from gateway_studio.engine import (
    Color,
    Depth,
    GatewayError,
    Help,
    Image,
    Normals,
    PointCloud,
    Range,
    node,
    parse_color,
)
from gateway_studio.engine.slots import srgb_encode

from ._clamps import at_least
from ._filters import scaled_radius
from ._resample import BandedGaussian
from ._strips import band_rows, bands, halo_span, image_rows, new_frame, rows_for_halo


# -- normals ----------------------------------------------------------------------------
# version 2: smoothing past sigma 6 counts the upsampling's blur (nodes._resample.blur_plan)
@node("geometry.normals", outputs={"normals": Normals}, version=2)
def normals(
    depth: Depth,
    *,
    strength: Annotated[
        float,
        Range(0, 50, 0.1),
        Help(
            "Relief: how steep the surface gets per step of depth. 1 = a depth ramp from "
            "0 to 1 across the image's long side tilts the surface by 45°"
        ),
    ] = 4.0,
    smooth: Annotated[
        float,
        Range(0, 50, 0.5),
        Help(
            "Smooth the depth first (radius in pixels of a 1080-pixel-high frame) to hide "
            "banding and noise; 0 = off"
        ),
    ] = 2.0,
) -> Normals:
    """Surface normals from depth (+X right, +Y up, +Z toward the camera), as a normal map.

    Computed a band of rows at a time (the smoothing and the Sobel read the rows of halo
    they need), so the node holds the output and band-sized temporaries only."""

    d = depth.values
    h, w = d.shape
    # Per-pixel slope scaled by the long side: the relief does not depend on resolution.
    k = np.float32(strength * max(d.shape) / 8.0)  # Sobel 3x3 sums 8 × the slope
    r = scaled_radius(smooth, d.shape)
    smoothed = BandedGaussian(lambda top, bottom: d[top:bottom], (h, w), r / 2.0 if r >= 0.1 else 0)
    out = new_frame(h, w, 3)
    for top, bottom in bands(h, w, min_rows=rows_for_halo(smoothed.reach + 1)):
        lo, hi = halo_span(top, bottom, 1, h)
        block = smoothed.rows(lo, hi)
        # The smoothing needs tall bands (its halo grows with the picture); the slopes are
        # taken on sub-bands of the usual size, whose temporaries stay in the cache.
        for t, b in bands(bottom - top, w):
            out[top + t : top + b] = _normal_rows(block, lo, top + t, top + b, (h, w), k)
    return Normals(out)


def _normal_rows(
    block: np.ndarray, lo: int, top: int, bottom: int, shape: tuple[int, int], k: np.float32
) -> np.ndarray:
    """Normals of rows [top, bottom) from ``block``, the smoothed depth's rows from ``lo``
    on (with the row above and below these, where the frame has them)."""
    import cv2

    h, w = shape
    sub_lo, sub_hi = halo_span(top, bottom, 1, h)
    sub = block[sub_lo - lo : sub_hi - lo]
    if min(h, w) > 1:
        # Extend the border linearly (odd reflection): a plane keeps its slope up to the
        # edge. Only the frame's own edges are padded; inner band edges read real rows.
        pad_rows = (1 if sub_lo == 0 else 0, 1 if sub_hi == h else 0)
        sub = np.pad(sub, (pad_rows, (1, 1)), mode="reflect", reflect_type="odd")
        sub_lo -= pad_rows[0]
    d_col = cv2.Sobel(sub, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    d_row = cv2.Sobel(sub, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    cols = slice(1, -1) if min(h, w) > 1 else slice(None)
    rows = slice(top - sub_lo, bottom - sub_lo)
    # x = column (right); y = up = −row, so ∂h/∂y = −∂h/∂row and n_y = −∂h/∂y = +∂h/∂row.
    nx = -k * d_col[rows, cols]
    ny = k * d_row[rows, cols]
    nz = 1.0 / np.sqrt(nx * nx + ny * ny + 1.0)  # normalise (nx, ny, 1) plane by plane
    return np.asarray(cv2.merge([nx * nz, ny * nz, nz]))


# -- point cloud ------------------------------------------------------------------------
def _distances(
    depth: Depth, near: float, far: float, values: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """Distance per pixel and its unit: the depth's metres when both knobs are 0 and it
    is calibrated; else near/far pin depth 1 and 0 (relative 1 … 10 when both are 0).
    ``values`` (rows or samples of ``depth.values``) limits the work to those pixels."""
    part = depth if values is None else depth.derived(values, "", valid=None)
    if near == 0.0 and far == 0.0:
        dist = part.to_distance()
        return dist.values, "m" if dist.unit == "m" else "relative (nearest = 1)"
    if near <= 0.0 or far <= near:
        raise GatewayError(
            f"near ({near:g}) and far ({far:g}): set both, with far > near (or both 0 to "
            "use the depth's own metres when it has them)"
        )
    return part.to_distance(near, far).values, "near/far units"


def _jumps(depth: Depth, near: float, far: float, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Relative distance jump to the 3x3 neighbours, (z_max - z_min) / z_min, at the
    sampled pixels ``rows`` x ``cols``, a band of rows (and one row of halo) at a time."""
    import cv2

    h, w = depth.size
    box = np.ones((3, 3), np.uint8)
    out = np.empty((len(rows), len(cols)), np.float32)
    stride = int(rows[1] - rows[0]) if len(rows) > 1 else 1
    step = max(1, band_rows(w) // stride)  # sampled rows per band
    for g0 in range(0, len(rows), step):
        g1 = min(g0 + step, len(rows))
        lo, hi = halo_span(int(rows[g0]), int(rows[g1 - 1]) + 1, 1, h)
        dist = _distances(depth, near, far, depth.values[lo:hi])[0]
        jump = cv2.dilate(dist, box) / cv2.erode(dist, box) - 1.0
        out[g0:g1] = jump[np.ix_(rows[g0:g1] - lo, cols)]
    return out


# version 3: no point where the depth has none; the depth's metres by default
@node("geometry.point_cloud", outputs={"cloud": PointCloud}, version=3)
def point_cloud(
    depth: Depth,
    image: Image | None = None,
    *,
    fov: Annotated[
        float, Range(5, 170, 0.5), Help("Horizontal field of view of the camera, in degrees")
    ] = 60.0,
    near: Annotated[
        float,
        Range(0, 1000, 0.01),
        Help(
            "Distance of depth 1 (the nearest pixels). 0 (with far 0) = the depth's own "
            "metres when it is calibrated (sensor, EXR, phone depth), else 1"
        ),
    ] = 0.0,
    far: Annotated[
        float,
        Range(0, 10000, 0.01),
        Help("Distance of depth 0 (the farthest pixels); 0 = from the depth (else 10)"),
    ] = 0.0,
    stride: Annotated[
        int, Range(1, 16, 1), Help("Keep every n-th pixel in each direction (1 = all)")
    ] = 2,
    min_depth: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("Drop pixels farther than this depth (0 keeps all; raise it to cut the sky)"),
    ] = 0.0,
    cut_edges: Annotated[
        float,
        Range(0, 1, 0.01),
        Help(
            "Drop points on depth jumps, where the distance changes by more than this "
            "fraction between neighbouring pixels: removes the 'curtains' that smooth model "
            "depth stretches between a subject and the background (0 keeps all)"
        ),
    ] = 0.0,
) -> PointCloud:
    """Lift depth (and the photo's colours) to a 3-D point cloud through a pinhole camera.

    Distance along the view axis comes from ``Depth.to_distance``: the depth's metres when
    it is calibrated and near/far are 0, else near/far pin depth 1 and 0. Points are in
    the camera frame (+X right, +Y up, +Z toward the camera), so they lie at negative z.
    Pixels without depth (holes) and transparent pixels (alpha < 0.5) give no point.
    Export with output.export to a .ply file."""

    if image is not None and image.size != depth.size:
        raise GatewayError(
            f"image {image.size[1]}x{image.size[0]} and depth "
            f"{depth.size[1]}x{depth.size[0]} differ in size; connect the depth of this image"
        )
    h, w = depth.size
    _distances(depth, near, far, depth.values[:1, :1])  # refuses bad knobs before any work
    f = 0.5 * w / np.tan(np.deg2rad(fov) / 2.0)
    rows = np.arange(0, h, stride)
    cols = np.arange(0, w, stride)
    points: list[np.ndarray] = []
    colours: list[np.ndarray] = []
    unit = ""
    step = max(1, band_rows(w) // stride)  # sampled rows per band
    for g0 in range(0, len(rows), step):
        band = rows[g0 : g0 + step]
        grid = (slice(int(band[0]), int(band[-1]) + 1, stride), slice(None, None, stride))
        d = depth.values[grid]
        dist, unit = _distances(depth, near, far, d)  # only the sampled pixels
        keep = d >= np.float32(min_depth) if min_depth > 0 else np.ones(d.shape, dtype=bool)
        if depth.valid is not None:
            keep &= depth.valid[grid]
        if image is not None and image.alpha is not None:
            keep &= image.alpha[grid] >= 0.5
        if cut_edges > 0:
            keep &= _jumps(depth, near, far, band, cols) <= cut_edges
        z = dist[keep].astype(np.float64)
        rr, cc = np.meshgrid(band, cols, indexing="ij")
        u = (cc[keep] + 0.5 - w / 2.0) / f  # pixel centres, principal point at the centre
        v = (rr[keep] + 0.5 - h / 2.0) / f
        points.append(np.stack([u * z, -v * z, -z], axis=1).astype(np.float32))
        if image is not None:
            rgb = image_rows(image, grid[0].start, grid[0].stop, stride)[keep]
            # PLY colours are display (sRGB) colours
            colours.append(srgb_encode(rgb) if image.colorspace == "linear" else rgb)
        else:
            colours.append(np.repeat(d[keep][:, None], 3, axis=1))
    return PointCloud(
        np.concatenate(points), np.ascontiguousarray(np.concatenate(colours), np.float32), unit=unit
    )


# -- relight ----------------------------------------------------------------------------
@node("geometry.relight", outputs={"image": Image})
def relight(
    image: Image,
    normals: Normals,
    *,
    azimuth: Annotated[
        float,
        Range(-180, 180, 1),
        Help(
            "Direction the light comes from, around the view axis: 0 = right, 90 = top, "
            "180 = left, -90 = bottom (degrees)"
        ),
    ] = 135.0,
    elevation: Annotated[
        float,
        Range(0, 90, 1),
        Help("Height of the light: 0 = grazing from the side, 90 = from the camera"),
    ] = 35.0,
    intensity: Annotated[
        float, Range(0, 4, 0.01), Help("Strength of the light on surfaces facing it")
    ] = 1.0,
    ambient: Annotated[
        float, Range(0, 2, 0.01), Help("Light everywhere, also on surfaces facing away")
    ] = 0.35,
    color: Annotated[Color, Help("Colour of the light")] = "#fff2e0",
    mix: Annotated[float, Range(0, 1, 0.01), Help("0 = the original photo, 1 = fully relit")] = 1.0,
) -> Image:
    """Relight the photo with one directional light on its normals (Lambert shading).

    Shading multiplies light in linear light: with sRGB ≈ linear^(1/2.2) that is the photo
    times shade^(1/2.2), so the sRGB photo is never converted back and forth."""
    import cv2

    if normals.size != image.size:
        raise GatewayError(
            f"normals {normals.size[1]}x{normals.size[0]} and image "
            f"{image.size[1]}x{image.size[0]} differ in size; connect this image's normals"
        )
    az, el = np.deg2rad(azimuth), np.deg2rad(elevation)
    light = np.array(
        [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], dtype=np.float32
    )
    tint = np.asarray(parse_color(color), dtype=np.float32)
    h, w = image.size
    out = new_frame(h, w, 3)
    gains = [float(intensity) * float(t) for t in tint]
    for top, bottom in bands(h, w):
        lambert = at_least(cv2.transform(normals.vectors[top:bottom], light[None, :]), 0.0)
        # ambient + intensity·lambert·tint, a channel at a time (numpy's broadcast of the
        # (n, W, 1) lambert against the tint took 5x the time)
        shade = cv2.merge([cv2.addWeighted(lambert, g, lambert, 0.0, ambient) for g in gains])
        if image.colorspace == "srgb":
            shade = cv2.pow(shade, 1.0 / 2.2)
        if mix < 1.0:  # pixels + mix·(pixels·shade − pixels) = pixels·(1 − mix + mix·shade)
            shade = cv2.addWeighted(shade, mix, shade, 0.0, 1.0 - mix)
        relit = cv2.multiply(image_rows(image, top, bottom), shade)
        np.clip(relit, 0.0, 1.0, out=out[top:bottom])
    return Image(out, image.alpha, image.colorspace, image.bit_depth)
