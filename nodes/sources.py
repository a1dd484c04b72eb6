"""Sources: where pixels enter a patch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from gateway_studio.engine import Context, Depth, FilePath, GatewayError, Help, Image, node
from gateway_studio.engine.imageio import image_from_array, open_pil, read_image


@node("source.image", outputs={"image": Image}, proxy=False)
def image(
    *,
    path: Annotated[
        FilePath, Help("Photo to read (PNG, JPEG, TIFF, WebP, HEIC/HEIF, AVIF; 8 or 16 bit)")
    ] = "",
    ctx: Context,
) -> Image:
    """Read a photo from disk (EXIF orientation applied, 16-bit kept)."""
    if not path:
        raise GatewayError("no image chosen: set the 'path' param")
    return read_image(ctx.resolve_path(path))


#: Photos scikit-image ships (no download), with their licences.
SAMPLE_PHOTOS = {
    "astronaut": "Eileen Collins, NASA — public domain",
    "coffee": "Rachel Michetti — CC0",
    "chelsea": "Stefan van der Walt — CC0",
    "rocket": "SpaceX — CC0",
}


@node("source.sample", outputs={"image": Image}, proxy=False)
def sample(
    *,
    name: Annotated[
        Literal["astronaut", "coffee", "chelsea", "rocket"],
        Help("A photo that ships with scikit-image (astronaut: public domain; others CC0)"),
    ] = "astronaut",
) -> Image:
    """A sample photo from scikit-image's data (no file needed)."""
    import skimage.data

    return image_from_array(getattr(skimage.data, name)())


def _fill_invalid(disparity: np.ndarray) -> np.ndarray:
    """Fill unmatched pixels of a ground-truth disparity map from their neighbours.

    Middlebury leaves occlusions as inf; left as 'farthest' they punch holes through the
    foreground, so we inpaint them (OpenCV Telea) on a 16-bit copy of the map. Inpainting
    averages both sides of a hole, so a hole on a depth edge (an occlusion: the background
    seen by one camera only) would get a depth halfway between the subject and the
    background, a one-pixel fringe that every depth-selective effect shows. Where the
    nearest valid pixels left and right of a hole differ by more than a quarter of the
    range, the hole takes the farther (background) one instead."""
    import cv2

    valid = np.isfinite(disparity) & (disparity > 0)
    filled = np.where(valid, disparity, 0.0).astype(np.float32)
    if valid.all():
        return filled
    # One inpaint pass over every hole, on a copy normalised to 16 bit (cv2.inpaint takes
    # 8/16-bit single-channel images, not float): 1/65535 of the range is precise enough.
    lo, hi = float(filled[valid].min()), float(filled[valid].max())
    scaled = np.round((filled - lo) / max(hi - lo, 1e-6) * 65535).clip(0, 65535)
    restored = cv2.inpaint(
        scaled.astype(np.uint16), (~valid).astype(np.uint8), 5, cv2.INPAINT_TELEA
    )
    filled = np.where(valid, filled, restored.astype(np.float32) / 65535 * (hi - lo) + lo)
    # nearest valid column to the left / right of every pixel, in its row (-1 / w: none)
    h, w = valid.shape
    cols = np.broadcast_to(np.arange(w), (h, w))
    left = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right = np.minimum.accumulate(np.where(valid, cols, w)[:, ::-1], axis=1)[:, ::-1]
    on_edge = ~valid & (left >= 0) & (right < w)
    left_v = np.take_along_axis(filled, np.clip(left, 0, w - 1), axis=1)
    right_v = np.take_along_axis(filled, np.clip(right, 0, w - 1), axis=1)
    on_edge &= np.abs(left_v - right_v) > 0.25 * (hi - lo)
    return np.where(on_edge, np.minimum(left_v, right_v), filled)


# version 2: occlusion holes on depth edges take the background depth (no mid-depth fringe)
# version 3: those occlusions are marked as holes (validity), keeping the same values
@node("source.sample_rgbd", outputs={"image": Image, "depth": Depth}, proxy=False, version=3)
def sample_rgbd(
    *,
    name: Annotated[
        Literal["motorcycle", "scene"],
        Help(
            "motorcycle: Middlebury 2014 stereo photo with ground-truth disparity (shipped "
            "by scikit-image; research data, occlusions filled from neighbours); scene: "
            "the synthetic sample with exact depth (resources/images)"
        ),
    ] = "motorcycle",
    ctx: Context,
) -> dict[str, Image | Depth]:
    """A photo with its true depth, for trying depth effects without a model."""
    if name == "motorcycle":
        import skimage.data

        left, _right, disparity = skimage.data.stereo_motorcycle()
        measured = np.isfinite(disparity) & (disparity > 0)
        depth = Depth.from_disparity(_fill_invalid(disparity))
        return {
            "image": image_from_array(left),
            # the occlusions stay marked as holes; effects read the background-side fill
            "depth": depth.derived(
                depth.values, "", valid=measured, fill="occlusion fill (background side)"
            ),
        }
    folder = Path(__file__).resolve().parent.parent / "resources" / "images"
    if not (folder / "scene.png").exists():
        raise GatewayError(f"the synthetic scene is not installed (looked in {folder})")
    raw = np.asarray(open_pil(folder / "scene_depth.png"))
    return {
        "image": read_image(folder / "scene.png"),
        "depth": Depth.from_encoded(raw.astype(np.uint16), convention="inverse"),
    }
