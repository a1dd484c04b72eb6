"""Depth that already exists: depth files (sensors, datasets, renders) and phone photos.

``depth.from_file`` reads a map by its encoding (``nodes._depth_readers``: presets for
Kinect/RealSense millimetres, TUM, SUN RGB-D, NYU raw; OpenEXR Z passes; PFM disparity;
float TIFF / .npy; Gateway Studio's own 16-bit PNG). ``depth.embedded`` reads the depth
a phone stored inside the photo (``nodes._phone_depth``). Both give the ``Depth``
contract through the slot's constructors, holes as holes, metres as calibration; neither
resizes unless told: ``depth.embedded`` always matches its photo (edge-aware), and
``depth.from_file`` matches the image connected to ``size_from``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from gateway_studio.engine import (
    Context,
    Depth,
    FilePath,
    GatewayError,
    Help,
    Image,
    Range,
    When,
    node,
)
from gateway_studio.engine.imageio import read_image

from ._depth_readers import RawDepth, read_depth_file
from ._depth_resize import resize_depth
from ._phone_depth import embedded_depth, orient

NormalisationChoice = Literal["auto", "minmax", "percentile", "fixed"]


def to_depth(raw: RawDepth, normalisation: str, near: float, far: float) -> Depth:
    """A file's raw values → Depth, through the constructor of their convention."""
    if normalisation == "auto":
        if raw.stored_unit:  # an inverse map in [0, 1]: keep the stored values
            return Depth.from_inverse(
                raw.values, valid=raw.valid, normalisation="fixed", fixed_range=(1.0, 0.0)
            )
        normalisation = "minmax"
    fixed = (near, far) if normalisation == "fixed" else None
    kwargs = {"valid": raw.valid, "normalisation": normalisation, "fixed_range": fixed}
    if raw.convention == "metric":
        return Depth.from_metric(raw.values, **kwargs)  # type: ignore[arg-type]
    if raw.convention == "disparity":
        return Depth.from_disparity(raw.values, **kwargs)
    return Depth.from_inverse(raw.values, **kwargs)  # type: ignore[arg-type]


# version 2: validity (holes are holes, not far), encodings and presets, calibration,
# working normalisation for every convention, explicit size_from.
# version 3: an .exr whose gatewayStudio/depthConvention says "inverse" (output.export's
# own, for a Depth without metres) is read as inverse depth, not metres.
@node(
    "depth.from_file",
    outputs={"depth": Depth},
    proxy=False,
    version=3,
    family="depth",
    aliases=("kinect", "realsense", "lidar", "sensor depth", "exr", "rgb-d", "tum", "nyu"),
)
def from_file(
    size_from: Image | None = None,
    *,
    path: Annotated[
        FilePath,
        Help(
            "Depth file: 8/16-bit PNG/TIFF/PGM, OpenEXR (.exr Z pass), Middlebury .pfm, "
            "float TIFF or .npy (NaN = no depth)"
        ),
    ] = "",
    encoding: Annotated[
        Literal["auto", "kinect-mm", "tum", "sun-rgbd", "nyu-raw"],
        Help(
            "How the file stores depth. auto: by extension, with 'convention' and 'scale'; "
            "kinect-mm: 16-bit millimetres (RealSense, Azure Kinect, most RGB-D apps); tum: "
            "value / 5000 m; sun-rgbd: bits rotated by 3, then mm; nyu-raw: NYU's raw "
            "little-endian PGM. 0 = no depth in every preset"
        ),
    ] = "auto",
    convention: Annotated[
        Literal["inverse", "disparity", "metric"],
        Help(
            "encoding auto, PNG/TIFF/.npy: what the values mean — inverse depth (lighter = "
            "nearer; a 16-bit file holds 0 = no depth), disparity (larger = nearer) or "
            "metric depth (larger = farther). .exr is metric, .pfm disparity"
        ),
        When("encoding", "auto"),
    ] = "inverse",
    scale: Annotated[
        float,
        Range(1e-6, 1e6),
        Help("metric files: stored value × scale = metres (0.001 for millimetres)"),
        When("convention", "metric"),
    ] = 1.0,
    no_data: Annotated[
        float,
        Range(-1, 1e12),
        Help(
            "A stored value that means 'no depth', besides the encoding's own (e.g. 65535 "
            "or a renderer's far value); -1 = none"
        ),
    ] = -1.0,
    invert: Annotated[
        bool, Help("Flip near and far after reading (for mislabelled files)")
    ] = False,
    normalisation: Annotated[
        NormalisationChoice,
        Help(
            "How values map to [0, 1]: auto keeps an inverse 8/16-bit map's stored values "
            "and uses min–max otherwise; minmax; robust 1–99 percentiles; or fixed "
            "(fixed_near → 1, fixed_far → 0, in the file's units: metres for metric)"
        ),
    ] = "auto",
    fixed_near: Annotated[
        float,
        Range(0, 1e5, 0.01),
        Help("normalisation fixed: the value of depth 1 (metres for metric files)"),
        When("normalisation", "fixed"),
    ] = 1.0,
    fixed_far: Annotated[
        float,
        Range(0, 1e5, 0.01),
        Help("normalisation fixed: the value of depth 0 (metres for metric files)"),
        When("normalisation", "fixed"),
    ] = 10.0,
    ctx: Context,
) -> Depth:
    """Read a depth map from a file and convert it to the Depth convention.

    Holes (the encoding's invalid values, ``no_data``, NaN) stay holes; metric files keep
    their metres. The map keeps the file's size unless an image is connected to
    ``size_from``, which resizes it to that image on purpose (a different aspect ratio is
    refused)."""
    if not path:
        raise GatewayError("no depth file chosen: set the 'path' param")
    file = ctx.resolve_path(path)
    raw = read_depth_file(
        file, encoding=encoding, convention=convention, scale=scale, no_data=no_data
    )
    depth = to_depth(raw, normalisation, fixed_near, fixed_far)
    depth = depth.derived(depth.values, f"read as {raw.how}")
    if invert:
        depth = depth.inverted()
    if size_from is not None:
        depth = resize_depth(depth, size_from.size, "resized (size_from)")
    ctx.progress(1.0, "; ".join(depth.notes()) or "done")
    return depth


@node(
    "depth.embedded",
    outputs={"depth": Depth},
    proxy=False,
    family="depth",
    aliases=("phone", "iphone", "portrait", "heic", "lens blur", "gdepth", "android"),
)
def embedded(
    *,
    path: Annotated[
        FilePath,
        Help(
            "Photo that carries depth: an iPhone portrait HEIC (auxiliary depth image) "
            "or an Android GDepth JPEG"
        ),
    ] = "",
    edge_refine: Annotated[
        bool,
        Help(
            "Snap the phone's low-resolution depth edges to the photo while upsampling "
            "(colour guided filter); off = plain bicubic"
        ),
    ] = True,
    ctx: Context,
) -> Depth:
    """The depth map stored inside a phone photo, at the photo's size and orientation.

    HEIC: the auxiliary depth image with its representation type and range (Apple's
    disparity in 1/m, so the map is calibrated in metres). GDepth: RangeInverse or
    RangeLinear with Near/Far. The map is upsampled to the photo, following its edges."""
    if not path:
        raise GatewayError("no photo chosen: set the 'path' param")
    file = ctx.resolve_path(path)
    ctx.progress(0.1, "reading the embedded depth")
    found = embedded_depth(file)
    depth = found.depth
    if found.orientation != 1:
        valid = None if depth.valid is None else orient(depth.valid, found.orientation)
        depth = depth.derived(orient(depth.values, found.orientation), "oriented", valid=valid)
    ctx.check_cancelled()
    ctx.progress(0.4, "reading the photo")
    photo = read_image(file)
    ctx.check_cancelled()
    ctx.progress(0.6, "upsampling to the photo")
    guide = photo if edge_refine else None
    depth = depth.derived(depth.values, found.how)
    depth = resize_depth(depth, photo.size, "upsampled to the photo", guide)
    ctx.progress(1.0, "; ".join(depth.notes()) or "done")
    return depth
