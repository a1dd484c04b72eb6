"""How slots look on screen: pure numpy, no Qt, so the worker thread can run it.

Every conversion returns uint8 RGB (H, W, 3). Depth and fields show lighter = nearer
(the slot's own convention: 1.0 = nearest), optionally through a false-colour LUT.
"""

from __future__ import annotations

import colorsys
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine.slots import (
    Depth,
    Faces,
    Field,
    Image,
    Normals,
    PointCloud,
    Segments,
    Slot,
    inverse_to_distance,
    srgb_encode,
)

Colormap = Literal["gray", "turbo"]
RGB = NDArray[np.uint8]


def _turbo_lut() -> RGB:
    """Google's Turbo colormap (polynomial fit by its author), 256 entries."""
    x = np.linspace(0.0, 1.0, 256)
    v4 = np.stack([np.ones_like(x), x, x**2, x**3], axis=1)
    v2 = np.stack([x**4, x**5], axis=1)
    red = v4 @ [0.13572138, 4.61539260, -42.66032258, 132.13108234] + v2 @ [
        -152.94239396,
        59.28637943,
    ]
    green = v4 @ [0.09140261, 2.19418839, 4.84296658, -14.18503333] + v2 @ [4.27729857, 2.82956604]
    blue = v4 @ [0.10667330, 12.64194608, -60.58204836, 110.36276771] + v2 @ [
        -89.90310912,
        27.34824973,
    ]
    rgb = np.clip(np.stack([red, green, blue], axis=1), 0.0, 1.0)
    return np.round(rgb * 255.0).astype(np.uint8)


TURBO: RGB = _turbo_lut()
GRAY: RGB = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
LUTS: dict[str, RGB] = {"gray": GRAY, "turbo": TURBO}
BACKDROP = np.array([24, 26, 29], dtype=np.uint8)


def _to_u8(values: NDArray[Any]) -> RGB:
    """[0, 1] → 0..255 in one pass, no float temporary: ``np.round(np.clip(v, 0, 1) * 255)``
    to the bit for every value the slot contracts allow (float32 in [0, 1], checked when
    a slot is made; above 1 saturates, rounding is half to even). A negative value would
    come out as its magnitude, which no slot holds."""
    import cv2

    return np.asarray(cv2.convertScaleAbs(values, alpha=255.0))


def segment_colors(count: int) -> RGB:
    """Distinct colours per label (golden-ratio hues); stable for a given label index."""
    out = np.empty((max(count, 1), 3), dtype=np.uint8)
    for i in range(max(count, 1)):
        hue = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hsv_to_rgb(hue, 0.6, 0.95)
        out[i] = (round(r * 255), round(g * 255), round(b * 255))
    return out


def _draw_box(
    rgb: RGB, box: tuple[float, float, float, float], color: tuple[int, int, int], thickness: int
) -> None:
    h, w = rgb.shape[:2]
    x0, y0 = round(box[0]), round(box[1])
    x1, y1 = round(box[0] + box[2]), round(box[1] + box[3])
    x0, x1 = max(0, min(x0, w - 1)), max(0, min(x1, w - 1))
    y0, y1 = max(0, min(y0, h - 1)), max(0, min(y1, h - 1))
    t = thickness
    rgb[y0 : min(y0 + t, h), x0 : x1 + 1] = color
    rgb[max(y1 - t + 1, 0) : y1 + 1, x0 : x1 + 1] = color
    rgb[y0 : y1 + 1, x0 : min(x0 + t, w)] = color
    rgb[y0 : y1 + 1, max(x1 - t + 1, 0) : x1 + 1] = color


def faces_rgb(faces: Faces, source: RGB | None = None) -> RGB:
    """Boxes (nearest face brightest) and landmarks over the source image, or over nothing."""
    h, w = faces.image_size
    if source is not None and source.shape[:2] == (h, w):
        rgb = source.copy()
    else:
        rgb = np.empty((max(h, 1), max(w, 1), 3), dtype=np.uint8)
        rgb[:] = BACKDROP
    thickness = max(2, round(max(h, w) / 120))
    for i, face in enumerate(faces.faces):
        color = (255, 150, 60) if i == 0 else (240, 200, 90)
        _draw_box(rgb, face.box, color, thickness)
        for x, y in face.landmarks:
            xi, yi = round(x), round(y)
            rgb[
                max(yi - thickness, 0) : yi + thickness + 1,
                max(xi - thickness, 0) : xi + thickness + 1,
            ] = (90, 220, 255)
    return rgb


def pointcloud_rgb(
    cloud: PointCloud, long_side: int = 512, *, yaw: float = -35.0, pitch: float = 20.0
) -> RGB:
    """The cloud seen from beside the camera (orbited ``yaw``/``pitch`` degrees about its
    centre), so its depth reads at a glance; nearer points are drawn over farther ones."""
    rgb = np.empty((long_side, long_side, 3), dtype=np.uint8)
    rgb[:] = BACKDROP
    pts = np.asarray(cloud.points, dtype=np.float64)
    if len(pts) == 0:
        return rgb
    a, b = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    q = (pts - np.median(pts, axis=0)) @ (rx @ ry).T
    lo, hi = np.percentile(q[:, :2], 0.5, axis=0), np.percentile(q[:, :2], 99.5, axis=0)
    span = float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-9))
    margin = 0.04 * long_side
    scale = (long_side - 2 * margin - 2) / span
    cols = np.round((q[:, 0] - lo[0]) * scale + margin).astype(np.int64)
    rows = np.round((hi[1] - q[:, 1]) * scale + margin).astype(np.int64)
    keep = (cols >= 0) & (cols < long_side - 1) & (rows >= 0) & (rows < long_side - 1)
    order = np.argsort(q[keep, 2])  # +Z toward the viewer: far first, near overwrites
    r, c = rows[keep][order], cols[keep][order]
    colors = _to_u8(np.asarray(cloud.colors)[keep][order])
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):  # 2x2 splats close the gaps
        rgb[r + dr, c + dc] = colors
    return rgb


def to_rgb(
    slot: Slot, colormap: Colormap = "gray", *, source: RGB | None = None, step: int = 1
) -> RGB | None:
    """The slot as uint8 RGB, or None for slots with no picture (files).

    ``step`` > 1 subsamples first (cheap thumbnails of big rasters)."""
    s = slice(None, None, step)
    if isinstance(slot, Image):
        pixels = slot.strided(step)
        if slot.colorspace == "linear":
            pixels = srgb_encode(pixels)  # after subsampling: thumbnails stay cheap
        if slot.alpha is not None:  # over the canvas colour, so cut-outs read as cut-outs
            a = slot.alpha[s, s, None]
            pixels = pixels * a + (BACKDROP / 255.0).astype(np.float32) * (1.0 - a)
        return _to_u8(pixels)
    if isinstance(slot, (Depth, Field)):
        lut = LUTS.get(colormap, GRAY)
        rgb = lut[_to_u8(slot.values[s, s])]
        if isinstance(slot, Depth) and slot.valid is not None:
            rgb = _hatch_holes(rgb, slot.valid[s, s], step)
        return rgb
    if isinstance(slot, Normals):
        return _to_u8(slot.to_rgb()[s, s])
    if isinstance(slot, Segments):
        labels = slot.labels[s, s]
        colors = np.vstack([segment_colors(len(slot.names)), BACKDROP[None, :]])
        return colors[np.where(labels < 0, len(colors) - 1, labels)]
    if isinstance(slot, Faces):
        if source is not None and step > 1:
            source = source[s, s]
        faces = slot.resized(*_strided(slot.image_size, step)) if step > 1 else slot
        return faces_rgb(faces, source)
    if isinstance(slot, PointCloud):
        return pointcloud_rgb(slot)
    return None


#: Pixels without depth are drawn as magenta/black diagonal hatching: never a grey
#: that could be read as a depth, visible on every colormap.
HOLE_COLOURS = np.array([[255, 0, 200], [20, 20, 20]], dtype=np.uint8)


def _hatch_holes(rgb: RGB, valid: NDArray[np.bool_], step: int) -> RGB:
    """``rgb`` with the holes hatched (stripes 4 screen pixels wide, in image coords)."""
    h, w = valid.shape
    rows, cols = np.ogrid[:h, :w]
    stripe = (((rows + cols) * step // 4) % 2).astype(np.intp)
    out = np.array(rgb)
    holes = ~valid
    out[holes] = HOLE_COLOURS[np.broadcast_to(stripe, (h, w))[holes]]
    return out


def _strided(size: tuple[int, int], step: int) -> tuple[int, int]:
    return (size[0] + step - 1) // step, (size[1] + step - 1) // step


def thumbnail(slot: Slot, long_side: int = 180, *, source: RGB | None = None) -> RGB | None:
    """A small picture of the slot for a node on the canvas."""
    size = slot.size
    step = 1
    if size is not None:
        step = max(1, max(size) // (long_side * 2))
    rgb = to_rgb(slot, source=source, step=step)
    if rgb is None:
        return None
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    if scale < 1.0:
        import cv2

        size_wh = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def _peak(image: Image) -> float:
    """What a sample of ``image.data`` is divided by to give [0, 1]."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(image.data.dtype, 1.0)


def readout(slot: Slot, x: int, y: int) -> str:
    """What the slot holds at pixel (x, y), in words, for the viewer's status line."""
    size = slot.size
    if size is None or not (0 <= y < size[0] and 0 <= x < size[1]):
        return ""
    if isinstance(slot, Depth):
        if slot.valid is not None and not slot.valid[y, x]:
            return f"no depth (a hole; effects read the {slot.fill} fill)"
        v = float(slot.values[y, x])
        text = f"depth {v:.4f}  (1 = nearest)"
        if slot.metric_range is not None:
            near, far = slot.metric_range
            metres = float(inverse_to_distance(np.float32(v), near, far))
            text += f"  {metres:.3f} m"
        return text
    if isinstance(slot, Field):
        return f"{slot.type_name.lower()} {float(slot.values[y, x]):.4f}"
    if isinstance(slot, Image):
        r, g, b = (float(c) for c in slot.data[y : y + 1, x : x + 1].reshape(3) / _peak(slot))
        text = f"rgb {r:.3f} {g:.3f} {b:.3f}"
        if slot.alpha is not None:
            text += f"  alpha {float(slot.alpha[y, x]):.3f}"
        return text
    if isinstance(slot, Normals):
        nx_, ny, nz = (float(c) for c in slot.vectors[y, x])
        return f"normal {nx_:+.3f} {ny:+.3f} {nz:+.3f}"
    if isinstance(slot, Segments):
        label = int(slot.labels[y, x])
        return f"segment {label}: {slot.names[label]}" if label >= 0 else "unlabelled"
    if isinstance(slot, Faces):
        for i, face in enumerate(slot.faces):
            bx, by, bw, bh = face.box
            if bx <= x <= bx + bw and by <= y <= by + bh:
                depth = "" if face.depth is None else f", depth {face.depth:.3f}"
                return f"face {i}: score {face.score:.2f}{depth}"
        return f"{len(slot.faces)} face(s)"
    return ""


def is_displayable(type_name: str) -> bool:
    return type_name != "Files"
