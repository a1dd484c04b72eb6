"""Modulation: effects driven by continuous fields — fog, defocus, halo, stylisation.

Every node takes an ``Image`` and a field (a ``Field`` input also accepts ``Depth`` and
``Mask``), and has a ``mix`` knob (0 = the input image, 1 = the full effect). Outputs keep
the input's size and alpha and stay in [0, 1].

Conventions shared by the family:

* Radius / size knobs are in pixels of a frame whose short side is 1080 (see
  ``nodes._filters``), so a preview proxy and a full-size render look alike.
* Light-like operations (fog, bokeh, bloom) run in "linear-ish" light: sRGB values are
  squared (gamma 2), processed and square-rooted back. Gamma 2 is within a few percent of
  the sRGB curve in the mid-tones and costs one multiply instead of a ``pow``. Images
  whose ``colorspace`` is already "linear" are used as they are.
* A field whose size differs from the image is refused, naming both sizes (no silent
  resize); style images and layers of the same aspect ratio are resampled.
* Work runs a band of rows at a time (``nodes._strips``): a node holds its output frame
  and a few low-resolution arrays, never a dozen full-frame temporaries, so its cost per
  megapixel and its memory per frame stay flat from a preview to a 45 MP photo. Wide
  blurs run on downscaled copies (``nodes._resample``); an 8/16-bit photo is converted to
  float a band at a time. Element-wise maths goes through ``cv2`` where numpy would
  broadcast (several times faster).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import (
    RELATIVE_FAR,
    Color,
    Depth,
    Faces,
    Field,
    GatewayError,
    Help,
    Image,
    Picks,
    Range,
    node,
    parse_color,
)
from gateway_studio.engine.slots import inverse_to_distance

from ._clamps import at_most
from ._filters import (
    luminance,
    resized_to,
    same_size,
    scaled_radius,
)
from ._glow import half_size_glow
from ._lens import MIN_BAND_ROWS, defocus
from ._pixels import (
    bcast,
    from_light,
    lerp,
    mixed,
    onto,
    render,
    saturation_lerp,
    solid,
    to_light,
)
from ._pixels import blend as blend_rows
from ._pixels import colour as knob_colour
from ._resample import resize_rows
from ._sketch import Sketch
from ._strips import band_rows, image_rows, rows_for_halo
from ._styles import pixel_cells, posterize, toned

F32 = NDArray[np.float32]

MixKnob = Annotated[
    float, Range(0, 1, 0.01), Help("How much of the effect: 0 = the input image, 1 = full")
]


# -- helpers ----------------------------------------------------------------------------
def _field_at(field: Field | Depth, image: Image, what: str) -> F32:
    return same_size(field.values, image.size, what)


def _rows_of(image: Image, like: Image, what: str) -> Any:
    """rows(top, bottom) of ``image`` at the size of ``like``: its own rows when the sizes
    match, else rows of a resampled copy (same aspect ratio, see ``resized_to``)."""
    if image.size == like.size:
        return lambda top, bottom: image_rows(image, top, bottom)
    full = resized_to(image.pixels, like.size, what)
    return lambda top, bottom: full[top:bottom]


# -- atmosphere -------------------------------------------------------------------------
# version 2: a calibrated Depth gives the distance ratio by default (depth_range 0 = auto)
@node("modulate.atmosphere", outputs={"image": Image}, version=2)
def atmosphere(
    image: Image,
    depth: Depth | Field,
    *,
    density: Annotated[
        float,
        Range(0, 10, 0.01),
        Help(
            "Optical depth of the air at the farthest point: transmission there is "
            "exp(-density) (1 → 37 % of the scene shows through, 3 → 5 %)"
        ),
    ] = 1.5,
    colour: Annotated[Color, Help("Colour of the fog / sky light the air scatters")] = "#c9d4de",
    start: Annotated[
        float,
        Range(0, 1, 0.01),
        Help(
            "Depth where the air starts (1 = at the camera): anything nearer stays clear; "
            "distance is counted from here"
        ),
        Picks("depth"),
    ] = 1.0,
    depth_range: Annotated[
        float,
        Range(0, 100, 0.05),
        Help(
            "How many times farther the farthest point is than the nearest. 0 = auto: the "
            "depth's own metres when it is calibrated (a sensor, EXR, phone depth), else "
            "10. Larger values pile the fog up in the distance, small ones spread it evenly"
        ),
    ] = 0.0,
    desaturate: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("Extra loss of colour with distance (scaled by the fog amount)"),
    ] = 0.5,
    mix: MixKnob = 1.0,
) -> Image:
    """Atmospheric perspective: haze, fog colour and fading colour with distance.

    Koschmieder's law: a pixel at distance d keeps t = exp(-density · D) of its own light
    and gains (1 - t) of the fog colour, in linear light. D is the distance beyond the
    ``start`` plane, normalised so the farthest point is at D = 1. Distances come from
    ``Depth.to_distance`` (metres when the depth is calibrated). Holes in the depth read
    the depth's filled values (their nearest measured pixel), never "far". Connect a
    Depth (1 = nearest); any field works as "inverse depth"."""
    import cv2

    v = _field_at(depth, image, "the depth")
    ratio = float(depth_range)
    if ratio <= 0.0:
        metres = depth.metric_range if isinstance(depth, Depth) else None
        ratio = metres[1] / metres[0] if metres is not None else RELATIVE_FAR
    ratio = max(ratio, 1.0 + 1e-6)
    d_start = float(inverse_to_distance(np.float32(start), 1.0, ratio))
    reach = np.float32(ratio - d_start)
    if reach <= 1e-6 or density <= 0.0 or mix <= 0.0:
        return image
    h, w = image.size
    fog_light = solid(np.asarray(parse_color(colour), np.float32) ** 2, min(band_rows(w), h), w)

    def band(top: int, bottom: int) -> F32:
        dist = inverse_to_distance(v[top:bottom], 1.0, ratio)  # 1 (nearest) .. ratio
        d_norm = np.clip((dist - np.float32(d_start)) / reach, 0.0, 1.0)
        fog = 1.0 - cv2.exp(np.float32(-density) * d_norm)  # 1 - t (cv2.exp: 0.25x np.exp)
        source = pixels = image_rows(image, top, bottom)
        if desaturate > 0.0:
            pixels = saturation_lerp(pixels, fog * np.float32(desaturate))
        light = cv2.multiply(pixels, pixels) if image.colorspace == "srgb" else pixels
        # out = light·t + fog_colour·(1 - t)
        fogged = blend_rows(np.asarray(light), fog_light[: bottom - top], 1.0 - fog, fog)
        return mixed(source, from_light(image, fogged), float(mix))

    return render(image, band)


# -- isolate (depth of field) -----------------------------------------------------------
def _face_focus(faces: Faces, which: int) -> float | None:
    """The mean depth of face ``which`` (0 = nearest; faces come sorted near → far), or
    None when there is no such face or it has no measured depth."""
    if not 0 <= which < len(faces.faces):
        return None
    return faces.faces[which].depth


# version 2: with alpha, transparent pixels' colour no longer bleeds into visible ones
# version 3: focus can follow a face (the faces input)
# version 4: wide layers of big photos blur on copies down to 1/64 (was 1/16; nodes._lens)
@node("modulate.isolate", outputs={"image": Image}, version=4)
def isolate(
    image: Image,
    depth: Field,
    subject: Field | None = None,
    faces: Faces | None = None,
    *,
    focus: Annotated[
        float,
        Range(0, 1, 0.005),
        Help(
            "Depth in focus (1 = nearest, 0 = farthest); pick it off the depth map. With "
            "faces connected, the chosen face's depth is the focus instead"
        ),
        Picks("depth", spread="focus_range"),
    ] = 0.8,
    face: Annotated[
        int,
        Range(0, 20, 1),
        Help(
            "With faces connected: which face the focus follows (0 = the nearest, 1 = the "
            "next…); with no such face, the focus knob holds"
        ),
    ] = 0,
    focus_range: Annotated[
        float,
        Range(0, 1, 0.005),
        Help("Depth distance either side of the focus that stays fully sharp"),
    ] = 0.02,
    aperture: Annotated[
        float,
        Range(0, 50, 0.1),
        Help(
            "How fast blur grows away from the focus: the radius reaches max radius "
            "1 / aperture beyond the sharp range (wider aperture = shallower focus)"
        ),
    ] = 4.0,
    max_radius: Annotated[
        float,
        Range(0, 150, 0.5),
        Help("Largest bokeh radius, in pixels of a 1080-pixel-high frame"),
    ] = 24.0,
    mix: MixKnob = 1.0,
) -> Image:
    """Subject isolation: lens blur that grows with distance from the focus depth.

    The focus is the knob, or — with ``faces.detect`` connected — the mean depth of the
    chosen face, so it follows the face from photo to photo (an input, not a copied
    number). Layered gather (see ``_layered_defocus``): no halo of the sharp subject in the
    background and no background smeared over the subject. An optional subject mask (or
    soft matte) is kept sharp whatever its depth. With alpha, only visible pixels are
    gathered (no dark fringe from transparent ones); the alpha itself is kept."""

    v = _field_at(depth, image, "the depth")
    shape = (int(v.shape[0]), int(v.shape[1]))
    radius = scaled_radius(max_radius, shape)
    if radius < 0.5 or aperture <= 0.0 or mix <= 0.0:
        return image
    followed = _face_focus(faces, face) if faces is not None else None
    centre = np.float32(focus if followed is None else followed)
    matte = None if subject is None else _field_at(subject, image, "the subject mask")

    near_edge, far_edge = centre + np.float32(focus_range), centre - np.float32(focus_range)

    def coc(top: int, bottom: int) -> F32:
        # (|offset| - range) * aperture, clipped, with the offset's sign: at most one of
        # the two terms is not 0 (cheaper than np.abs and np.copysign; equal to rounding)
        rows, gain = v[top:bottom], np.float32(aperture)
        signed = np.clip((rows - near_edge) * gain, 0.0, 1.0)
        signed += np.clip((rows - far_edge) * gain, -1.0, 0.0)
        return signed if matte is None else signed * (1.0 - matte[top:bottom])

    defocused = defocus(image, coc, shape, radius)

    def band(top: int, bottom: int) -> F32:
        return onto(image, top, bottom, from_light(image, defocused(top, bottom)), float(mix))

    return render(image, band, min_rows=MIN_BAND_ROWS)


# -- halo -------------------------------------------------------------------------------
# version 2: transparent pixels do not glow
# version 3: its wide blurs' shape counts the upsampling (nodes._resample.blur_plan)
@node("modulate.halo", outputs={"image": Image}, version=3)
def halo(
    image: Image,
    amount: Field,
    *,
    threshold: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("Brightness (luma) above which pixels glow; a soft knee of 0.1 around it"),
    ] = 0.6,
    radius: Annotated[
        float,
        Range(1, 400, 0.5),
        Help("Reach of the glow, in pixels of a 1080-pixel-high frame"),
    ] = 60.0,
    intensity: Annotated[
        float, Range(0, 8, 0.01), Help("Strength of the glow (added light)")
    ] = 1.5,
    tint: Annotated[Color, Help("Colour of the glow (white keeps the highlights' own)")] = (
        "#ffe9cc"
    ),
    mix: MixKnob = 1.0,
) -> Image:
    """Dream halo: highlights where the field is high bloom into a soft glow.

    Highlights (luma above the threshold) are weighted by the field, spread by a
    multi-scale Gaussian bloom in linear-ish light, tinted, and screen-blended onto the
    image, so the glow never clips harshly."""
    import cv2

    if intensity <= 0.0 or mix <= 0.0:
        return image
    amount_v = _field_at(amount, image, "the amount field")
    shape = (int(amount_v.shape[0]), int(amount_v.shape[1]))
    tint_rgb = np.asarray(parse_color(tint), dtype=np.float32) ** 2 * np.float32(intensity)
    glow = half_size_glow(image, amount_v, threshold, scaled_radius(radius, shape), tint_rgb)

    def band(top: int, bottom: int) -> F32:
        lit = to_light(image, top, bottom)
        g = resize_rows(glow, shape, top, bottom)
        # screen: 1 - (1 - a)(1 - b) = a + b - a·b
        screened = np.asarray(cv2.subtract(cv2.add(lit, g), cv2.multiply(lit, g)))
        return onto(image, top, bottom, from_light(image, screened), float(mix))

    return render(image, band)


# -- depth band -------------------------------------------------------------------------
@node("modulate.depth_band", outputs={"image": Image})
def depth_band(
    image: Image,
    amount: Field,
    style_image: Image | None = None,
    *,
    style: Annotated[
        Literal["posterize", "tint", "desaturate", "pixelate", "image"],
        Help(
            "What to apply where the field is high: posterize (few tones), tint "
            "(monochrome in the colour), desaturate, pixelate (big square cells) or the "
            "connected style image"
        ),
    ] = "posterize",
    levels: Annotated[int, Range(2, 32, 1), Help("posterize: tones per channel")] = 4,
    colour: Annotated[Color, Help("tint: the colour the band is toned in")] = "#d9a066",
    cell: Annotated[
        float,
        Range(2, 200, 1),
        Help("pixelate: cell size in pixels of a 1080-pixel-high frame"),
    ] = 24.0,
    mix: MixKnob = 1.0,
) -> Image:
    """Depth-band stylisation: a style applied only through a field, with its soft edges.

    Feed it a band of depth (``field.from_depth`` shape band, or ``field.remap``): where the
    field is 0 the image is untouched, where it is 1 the style is full."""
    amount_v = _field_at(amount, image, "the amount field")
    m = np.float32(mix)
    styled_rows: Any = None
    style_alpha: F32 | None = None
    if style == "pixelate":
        styled_rows = pixel_cells(image, scaled_radius(cell, amount_v.shape))
    elif style == "image":
        if style_image is None:
            raise GatewayError("style 'image' needs an image connected to 'style_image'")
        styled_rows = _rows_of(style_image, image, "the style image")
        if style_image.alpha is not None:
            style_alpha = resized_to(style_image.alpha, image.size, "the style alpha")
    tint_rgb = knob_colour(colour, image)

    def band(top: int, bottom: int) -> F32:
        weight = amount_v[top:bottom] * m
        pixels = image_rows(image, top, bottom)
        if style == "posterize":
            styled = posterize(pixels, levels)
        elif style == "tint":
            styled = toned(pixels, tint_rgb)
        elif style == "desaturate":
            styled = bcast(luminance(pixels), 3)
        else:
            styled = styled_rows(top, bottom)
            if style_alpha is not None:
                weight = weight * style_alpha[top:bottom]
        return lerp(pixels, styled, weight)

    return render(image, band)


# -- drawing ----------------------------------------------------------------------------
# version 2: above 2160 px the ink lines are drawn on a downscaled copy (see nodes._sketch)
# version 3: the pencil tone's blur on a half-size copy from sigma 4 (nodes._resample)
@node("modulate.drawing", outputs={"image": Image}, version=3)
def drawing(
    image: Image,
    amount: Field,
    *,
    line_weight: Annotated[
        float,
        Range(0.3, 10, 0.1),
        Help("Thickness of the ink lines, in pixels of a 1080-pixel-high frame"),
    ] = 1.6,
    detail: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("How faint an edge still gets a line (1 = every texture, 0 = outlines only)"),
    ] = 0.5,
    hatching: Annotated[
        float,
        Range(0, 1, 0.01),
        Help("Pencil hatching of the dark tones (0 = none, 1 = dense cross-hatching)"),
    ] = 0.6,
    paper: Annotated[Color, Help("Paper colour")] = "#f5f0e6",
    ink: Annotated[Color, Help("Pencil / ink colour")] = "#2d2f36",
    mix: MixKnob = 1.0,
) -> Image:
    """Photo-to-drawing: a pencil rendition blended with the photo through the field.

    The drawing multiplies three marks on paper: a colour-dodge pencil tone (the photo's
    grey divided by its blur: shading along edges, white in flat areas), XDoG ink lines
    (a thresholded difference of Gaussians) and hatching whose strokes thicken in the dark
    tones (one direction for mid-tones, cross-hatching for shadows). Where the field is 1
    the picture is the drawing, where it is 0 the photo."""

    amount_v = _field_at(amount, image, "the amount field")
    if mix <= 0.0 or not amount_v.any():
        return image
    shape = (int(amount_v.shape[0]), int(amount_v.shape[1]))
    paper_rgb, ink_rgb = knob_colour(paper, image), knob_colour(ink, image)
    sketch = Sketch(image, shape, line_weight, detail, hatching, (paper_rgb, ink_rgb))

    def band(top: int, bottom: int) -> F32:
        weight = amount_v[top:bottom] * np.float32(mix)
        return lerp(image_rows(image, top, bottom), sketch.rows(top, bottom), weight)

    return render(image, band, min_rows=rows_for_halo(sketch.reach))


# -- blend ------------------------------------------------------------------------------
@node("modulate.blend", outputs={"image": Image})
def blend(
    image: Image,
    layer: Image,
    amount: Field,
    *,
    mode: Annotated[
        Literal["normal", "multiply", "screen", "overlay", "add"],
        Help(
            "normal: the layer itself; multiply: darkens; screen: lightens; overlay: "
            "contrast (multiply in the darks, screen in the lights); add: sums, clipped"
        ),
    ] = "normal",
    mix: MixKnob = 1.0,
) -> Image:
    """Blend a second image over the first through a field (the layer's alpha too)."""
    import cv2

    amount_v = _field_at(amount, image, "the amount field")
    m = np.float32(mix)
    layer_rows = _rows_of(layer, image, "the layer")
    layer_alpha = None
    if layer.alpha is not None:
        layer_alpha = resized_to(layer.alpha, image.size, "the layer's alpha")

    def band(top: int, bottom: int) -> F32:
        weight = amount_v[top:bottom] * m
        if layer_alpha is not None:
            weight = weight * layer_alpha[top:bottom]
        a = image_rows(image, top, bottom)
        b = layer_rows(top, bottom)
        if mode == "normal":
            top_layer = b
        elif mode == "multiply":
            top_layer = cv2.multiply(a, b)
        elif mode == "screen":
            top_layer = cv2.subtract(cv2.add(a, b), cv2.multiply(a, b))
        elif mode == "overlay":
            low = 2.0 * a * b
            high = 1.0 - 2.0 * (1.0 - a) * (1.0 - b)
            top_layer = np.where(a < 0.5, low, high)
        else:
            top_layer = at_most(cv2.add(a, b), 1.0)
        return lerp(a, np.asarray(top_layer, dtype=np.float32), weight)

    return render(image, band)
