"""Regenerate the sample images in resources/images/ (run from the repository root).

* ``scene.png`` + ``scene_depth.png``: a ray-traced synthetic scene (checker floor, a
  near sphere, a mid box, a far wall) with its *exact* depth, written in the Depth
  convention as a 16-bit PNG (inverse depth, lighter = nearer; 0 = no depth). Made here;
  CC0. ``scene_gdepth.jpg``: the same scene as an Android "lens blur" JPEG, its depth
  stored inside as Google's GDepth XMP (RangeInverse, metres). Made here; CC0.
* ``astronaut.png``, ``coffee.png``: photos that scikit-image ships (astronaut: NASA,
  public domain; coffee: Rachel Michetti, CC0), downscaled copies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "images"


def render_scene(width: int = 960, height: int = 640) -> tuple[np.ndarray, np.ndarray]:
    """Return (rgb float32 HxWx3 in [0,1], metric depth float64 HxW in metres)."""
    fov = np.deg2rad(60.0)
    f = 0.5 * width / np.tan(fov / 2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dirs = np.stack(
        [(xs - width / 2 + 0.5) / f, -(ys - height / 2 + 0.5) / f, np.ones_like(xs)], axis=-1
    )  # camera looks along +z here
    cam = np.array([0.0, 1.2, 0.0])
    t_best = np.full((height, width), np.inf)
    color = np.zeros((height, width, 3))
    normal = np.zeros((height, width, 3))

    def take(t: np.ndarray, rgb: np.ndarray, n: np.ndarray) -> None:
        hit = (t > 1e-6) & (t < t_best)
        t_best[hit] = t[hit]
        color[hit] = rgb[hit] if rgb.ndim == 3 else rgb
        normal[hit] = n[hit] if n.ndim == 3 else n

    # floor y = 0, checkered
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(dirs[..., 1] < 0, -cam[1] / dirs[..., 1], np.inf)
    p = cam + dirs * np.where(np.isfinite(t), t, 0.0)[..., None]
    checker = ((np.floor(p[..., 0]) + np.floor(p[..., 2])) % 2 == 0)[..., None]
    floor_rgb = np.where(checker, [0.78, 0.74, 0.66], [0.36, 0.42, 0.38])
    take(t, floor_rgb, np.broadcast_to([0.0, 1.0, 0.0], dirs.shape))
    # far wall z = 14, vertical stripes
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (14.0 - cam[2]) / dirs[..., 2]
    p = cam + dirs * t[..., None]
    stripe = (np.floor(p[..., 0] * 0.8) % 2 == 0)[..., None]
    wall_rgb = np.where(stripe, [0.55, 0.62, 0.78], [0.45, 0.52, 0.70])
    take(t, wall_rgb, np.broadcast_to([0.0, 0.0, -1.0], dirs.shape))
    # a red sphere, near
    centre, radius = np.array([-0.9, 0.8, 3.2]), 0.8
    oc = cam - centre
    b = np.einsum("ijk,k->ij", dirs, oc)
    a = np.einsum("ijk,ijk->ij", dirs, dirs)
    c = oc @ oc - radius**2
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
    p = cam + dirs * t[..., None]
    take(t, np.broadcast_to([0.85, 0.22, 0.18], dirs.shape), (p - centre) / radius)
    # a box, middle distance: x in [0.6, 2.2], y in [0, 1.6], z in [5.5, 7.1]
    lo, hi = np.array([0.6, 0.0, 5.5]), np.array([2.2, 1.6, 7.1])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (lo - cam) / dirs, (hi - cam) / dirs
    tmin = np.minimum(t1, t2).max(axis=-1)
    tmax = np.maximum(t1, t2).min(axis=-1)
    t = np.where((tmax >= tmin) & (tmax > 0), tmin, np.inf)
    axis = np.argmax(np.minimum(t1, t2), axis=-1)
    n = np.zeros(dirs.shape)
    np.put_along_axis(
        n, axis[..., None], -np.sign(np.take_along_axis(dirs, axis[..., None], -1)), -1
    )
    take(t, np.broadcast_to([0.95, 0.78, 0.25], dirs.shape), n)

    light = np.array([-0.5, 0.8, -0.4])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(np.einsum("ijk,k->ij", normal, light), 0, 1)
    rgb = np.clip(color * shade[..., None], 0, 1).astype(np.float32)
    depth = t_best * dirs[..., 2]  # distance along the optical axis
    return rgb, depth


def gdepth_jpeg(path: Path, rgb: np.ndarray, metres: np.ndarray, near: float, far: float) -> None:
    """Write ``rgb`` as a JPEG carrying Google's GDepth map of ``metres``: RangeInverse,
    a 16-bit PNG in base64, split into extended XMP over APP1 segments as Android does
    when the map exceeds one segment (https://developers.google.com/depthmap-metadata)."""
    import base64
    import io
    import struct

    from PIL import Image as PILImage

    n = far * (metres - near) / (metres * (far - near))  # the spec's RangeInverse
    png = io.BytesIO()
    PILImage.fromarray(np.round(np.clip(n, 0, 1) * 65535).astype(np.uint16)).save(png, "PNG")
    data = base64.b64encode(png.getvalue()).decode()
    ns = 'xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/"'
    rdf = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description {}/></rdf:RDF></x:xmpmeta>'
    main_xmp = rdf.format(
        f'{ns} GDepth:Format="RangeInverse" GDepth:Near="{near}" GDepth:Far="{far}" '
        'GDepth:Mime="image/png" GDepth:Units="m"'
    ).encode()
    ext = rdf.format(f'{ns} GDepth:Data="{data}"').encode()
    segments = [b"http://ns.adobe.com/xap/1.0/\x00" + main_xmp]
    for offset in range(0, len(ext), 60000):
        head = b"http://ns.adobe.com/xmp/extension/\x00" + b"0" * 32
        segments.append(head + struct.pack(">II", len(ext), offset) + ext[offset : offset + 60000])
    photo = io.BytesIO()
    PILImage.fromarray(np.round(rgb * 255).astype(np.uint8)).save(photo, "JPEG", quality=92)
    body = photo.getvalue()
    app1 = b"".join(b"\xff\xe1" + struct.pack(">H", len(s) + 2) + s for s in segments)
    path.write_bytes(body[:2] + app1 + body[2:])


def main() -> None:
    from PIL import Image as PILImage

    from gateway_studio.engine import Depth

    OUT.mkdir(parents=True, exist_ok=True)
    rgb, depth = render_scene()
    PILImage.fromarray(np.round(rgb * 255).astype(np.uint8)).save(OUT / "scene.png")
    inverse = Depth.from_metric(depth)
    PILImage.fromarray(inverse.to_uint16()).save(OUT / "scene_depth.png")
    # the same scene as a phone would store it: a JPEG with its depth inside (GDepth)
    gdepth_jpeg(OUT / "scene_gdepth.jpg", rgb, depth, float(depth.min()), float(depth.max()))

    import skimage.data

    for name in ("astronaut", "coffee"):
        img = PILImage.fromarray(getattr(skimage.data, name)())
        img.save(OUT / f"{name}.png", optimize=True)
    print(f"wrote samples to {OUT}")


if __name__ == "__main__":
    main()
