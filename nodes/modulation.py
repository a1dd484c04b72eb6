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
* Work is vectorised numpy / OpenCV on float32; element-wise image maths goes through
  ``cv2`` where numpy would broadcast (several times faster on 1080p frames).
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

from ._filters import (
    LUMA_709,
    gaussian_blur,
    luminance,
    pixel_scale,
    resized_to,
    same_size,
    scaled_radius,
    smoothstep,
)

F32 = NDArray[np.float32]

MixKnob = Annotated[
    float, Range(0, 1, 0.01), Help("How much of the effect: 0 = the input image, 1 = full")
]


# -- helpers ----------------------------------------------------------------------------
def _field_at(field: Field | Depth, image: Image, what: str) -> F32:
    return same_size(field.values, image.size, what)


def _bcast(values: F32, channels: int) -> F32:
    """(H, W) → (H, W, C) copy; cv2 maths needs equal shapes (it does not broadcast)."""
    import cv2

    return np.asarray(cv2.merge([values] * channels))


#: Weights are scaled by this before ``cv2.blendLinear``, which adds 1e-5 to its
#: denominator: a power of two scales exactly and makes that term vanish in float32, so a
#: weight of exactly 0 or 1 returns the other input bit for bit.
_BLEND_SCALE = np.float32(2.0**17)


def _blend(a: F32, b: F32, weight_a: F32, weight_b: F32) -> F32:
    """(a·wa + b·wb) / (wa + wb) per pixel in one pass (``cv2.blendLinear``): a lerp, or a
    normalised "over" when the weights are coverages. 0 where both weights are 0."""
    import cv2

    return np.asarray(cv2.blendLinear(a, b, weight_a * _BLEND_SCALE, weight_b * _BLEND_SCALE))


def _lerp(a: F32, b: F32, weight: F32 | float) -> F32:
    """a + (b − a)·weight for (H, W, 3) images; ``weight`` is (H, W) or a scalar."""
    import cv2

    if isinstance(weight, float):
        return np.asarray(cv2.addWeighted(a, 1.0 - weight, b, weight, 0.0))
    return _blend(a, b, 1.0 - weight, weight)


def _result(image: Image, pixels: NDArray[Any]) -> Image:
    """``pixels`` as an Image like ``image`` (alpha, colorspace, bit depth kept). A buffer
    this node made itself is clipped in place (one full-frame allocation fewer)."""
    if pixels.dtype != np.float32 or not pixels.flags.writeable or pixels.base is not None:
        return image.with_pixels(pixels)
    np.clip(pixels, 0.0, 1.0, out=pixels)
    return Image(pixels, image.alpha, image.colorspace, image.bit_depth)


def _mixed(image: Image, effect: F32, weight: F32 | float) -> Image:
    """The input image with ``effect`` blended in by ``weight`` (alpha kept)."""
    if isinstance(weight, float):
        if weight <= 0.0:
            return image
        if weight >= 1.0:
            return _result(image, effect)
    return _result(image, _lerp(image.pixels, effect, weight))


def _to_light(image: Image) -> F32:
    """Pixels in linear-ish light (see the module docstring)."""
    import cv2

    p = image.pixels
    return p.copy() if image.colorspace == "linear" else np.asarray(cv2.multiply(p, p))


def _from_light(image: Image, light: F32) -> F32:
    import cv2

    light = np.maximum(light, 0.0, out=light)
    return light if image.colorspace == "linear" else np.asarray(cv2.sqrt(light))


def _colour(value: str, image: Image) -> NDArray[np.float32]:
    """A '#rrggbb' knob as float32 RGB in the image's value space (sRGB or linear)."""
    rgb = np.asarray(parse_color(value), dtype=np.float32)
    return rgb * rgb if image.colorspace == "linear" else rgb


def _saturation_lerp(pixels: F32, amount: F32) -> F32:
    """Move each pixel toward its own grey by ``amount`` (H, W) in [0, 1]."""
    grey = _bcast(luminance(pixels), 3)
    return _lerp(pixels, grey, amount)


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
    dist = inverse_to_distance(v, 1.0, ratio)  # 1 (nearest) .. ratio (farthest)
    d_start = float(inverse_to_distance(np.float32(start), 1.0, ratio))
    reach = np.float32(ratio - d_start)
    if reach <= 1e-6 or density <= 0.0 or mix <= 0.0:
        return image
    d_norm = np.clip((dist - np.float32(d_start)) / reach, 0.0, 1.0)
    fog = (1.0 - np.exp(np.float32(-density) * d_norm)).astype(np.float32)  # 1 - t
    pixels = image.pixels
    if desaturate > 0.0:
        pixels = _saturation_lerp(pixels, fog * np.float32(desaturate))
    light = cv2.multiply(pixels, pixels) if image.colorspace == "srgb" else pixels
    fog_light = np.empty_like(light)
    fog_light[:] = np.asarray(parse_color(colour), dtype=np.float32) ** 2
    # out = light·t + fog_colour·(1 - t)
    out = _from_light(image, _blend(np.asarray(light), fog_light, 1.0 - fog, fog))
    return _mixed(image, out, float(mix))


# -- isolate (depth of field) -----------------------------------------------------------
#: Layers on each side of the focus plane (7 in all): enough for smooth transitions on
#: receding surfaces, few enough for < 100 ms at 1080p.
_LAYERS_PER_SIDE = 3
#: A layer blurs on a copy downscaled by a power of two that keeps its radius ≥ this.
_MIN_LOW_RES_RADIUS = 2.0
_MAX_LEVEL = 4  # 1/16


def _disc_kernel(radius: float) -> F32:
    """Anti-aliased flat disc (a lens's bokeh), normalised to sum 1."""
    r = max(float(radius), 0.5)
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n : n + 1, -n : n + 1].astype(np.float32)
    k = np.clip(r + 0.5 - np.sqrt(xx * xx + yy * yy), 0.0, 1.0).astype(np.float32)
    return k / k.sum()


def _halve(values: F32) -> F32:
    import cv2

    h, w = values.shape[:2]
    return np.asarray(
        cv2.resize(values, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    )


def _resize(values: F32, size: tuple[int, int]) -> F32:
    import cv2

    h, w = size
    return np.asarray(cv2.resize(values, (w, h), interpolation=cv2.INTER_LINEAR))


def _over(front: F32, back: F32) -> F32:
    """Premultiplied RGBA ``front`` over ``back`` (same size): front + back·(1 − αf)."""
    import cv2

    cover = _bcast(1.0 - front[..., 3], 4)
    return np.asarray(cv2.add(front, cv2.multiply(back, cover)))


def _layered_defocus(light: F32, coc: F32, max_radius: float) -> F32:
    """Depth-of-field by layered gather, without halos.

    ``coc`` is the signed circle of confusion in [-1, 1] (negative = behind the focus,
    positive = in front of it); a pixel's blur radius is ``|coc| · max_radius`` pixels.

    The CoC range is split into 2·N + 1 layers; each pixel's weight is shared between the
    two nearest layers (a tent), so receding surfaces blur smoothly. Each layer is
    premultiplied by its weights and blurred with its own disc (on a copy downscaled by a
    power of two, so big radii cost little); layers are composited back to front with
    "over" and the result is divided by the total coverage.

    No halo, by construction: the sharp focus layer is cut out at full resolution, so its
    colour never enters a blurred layer (the background beside a subject is normalised by
    its own coverage), and it covers its own pixels fully (the blurred background never
    smears over it). Only the split among the *blurred* layers runs on downscaled copies
    (a 2^k block straddling two blurred layers is shared between them by its mean depth),
    which nothing can see after their blur. Over is associative, so each side's layers
    composite among themselves at low resolution and only a handful of operations touch
    the full frame."""
    import cv2

    h, w = coc.shape
    n = _LAYERS_PER_SIDE
    index = (coc + 1.0) * np.float32(n)  # layer index space: 0 (far) .. n (focus) .. 2n
    # weight each pixel gives to the blurred layers; the rest (1 - rest) is the focus layer
    rest = np.minimum(cv2.absdiff(index, float(n)), 1.0)
    if not rest.any():
        return light.copy()
    behind = (coc < 0.0).astype(np.float32)
    weighted_index = index * rest
    # The exact cut of the focus layer, at full size; everything blurred runs at half size.
    rgb1 = _halve(np.asarray(cv2.multiply(light, _bcast(rest, 3))))
    a1, af1 = _halve(rest), _halve(rest * behind)
    i1, if1 = _halve(weighted_index), _halve(weighted_index * behind)
    sizes = [(h, w)]
    for _ in range(_MAX_LEVEL):
        ph, pw = sizes[-1]
        sizes.append(((ph + 1) // 2, (pw + 1) // 2))

    def side(alpha: F32, weighted_index: F32, behind: bool) -> tuple[F32, F32] | None:
        """(colour, coverage) of one side's blurred layers at full size; the colour is
        normalised (divided by its coverage), so it is a plain colour, not premultiplied."""
        if float(alpha.max()) < 1e-6:
            return None
        # the half-size colour is shared between the sides in proportion to coverage
        share = alpha / np.maximum(a1, 1e-6)
        rgb = np.asarray(cv2.multiply(rgb1, _bcast(share, 3)))
        rgba = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA))
        rgba[..., 3] = alpha
        pyramid = [(rgba, weighted_index)]
        while len(pyramid) < _MAX_LEVEL:
            pyramid.append((_halve(pyramid[-1][0]), _halve(pyramid[-1][1])))
        acc: F32 | None = None
        acc_level = _MAX_LEVEL
        order = range(0, n) if behind else range(2 * n, n, -1)  # outermost first
        for i in order:
            radius = abs(i - n) / n * max_radius
            level = 1
            while level < _MAX_LEVEL and radius / 2 ** (level + 1) >= _MIN_LOW_RES_RADIUS:
                level += 1
            premult, wi = pyramid[level - 1]
            idx = wi / np.maximum(premult[..., 3], 1e-6)
            idx = np.minimum(idx, n - 1.0) if behind else np.maximum(idx, n + 1.0)
            tent = np.maximum(1.0 - cv2.absdiff(idx, float(i)), 0.0)
            if float(tent.max()) <= 0.0:
                continue
            layer = np.asarray(cv2.multiply(premult, _bcast(tent, 4)))
            r_low = radius / 2**level
            if r_low >= 0.25:
                layer = np.asarray(
                    cv2.filter2D(layer, -1, _disc_kernel(r_low), borderType=cv2.BORDER_REFLECT)
                )
            if acc is None:
                acc, acc_level = layer, level
                continue
            if level < acc_level:
                acc, acc_level = _resize(acc, sizes[level]), level
            # behind the focus each nearer layer goes over; in front, each farther under
            acc = _over(layer, acc) if behind else _over(acc, layer)
        if acc is None:
            return None
        coverage = np.ascontiguousarray(acc[..., 3])
        colour = cv2.divide(
            cv2.cvtColor(acc, cv2.COLOR_RGBA2RGB), _bcast(np.maximum(coverage, 1e-6), 3)
        )
        return _resize(np.asarray(colour), sizes[0]), _resize(coverage, sizes[0])

    far = side(af1, if1, behind=True)
    near = side(np.maximum(a1 - af1, 0.0), i1 - if1, behind=False)
    # focus over far: a lerp from the sharp pixel to the far colour by the far layers'
    # share of the coverage (the focus layer has coverage 1 - rest)
    # (blendLinear normalises by the summed weights; the 1e-7 keeps the pixel itself where
    # nothing at all was gathered)
    out, sharp = light, (1.0 - rest) + np.float32(1e-7)
    coverage = sharp
    if far is not None:
        far_cover = rest * far[1]
        out = _blend(light, far[0], sharp, far_cover)
        coverage = sharp + far_cover
    # near over that, likewise
    if near is not None:
        out = _blend(out, near[0], (1.0 - near[1]) * coverage, near[1])
    return np.asarray(out)


def _face_focus(faces: Faces, which: int) -> float | None:
    """The mean depth of face ``which`` (0 = nearest; faces come sorted near → far), or
    None when there is no such face or it has no measured depth."""
    if not 0 <= which < len(faces.faces):
        return None
    return faces.faces[which].depth


# version 2: with alpha, transparent pixels' colour no longer bleeds into visible ones
# version 3: focus can follow a face (the faces input)
@node("modulate.isolate", outputs={"image": Image}, version=3)
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
    import cv2

    v = _field_at(depth, image, "the depth")
    radius = scaled_radius(max_radius, v.shape)
    if radius < 0.5 or aperture <= 0.0 or mix <= 0.0:
        return image
    followed = _face_focus(faces, face) if faces is not None else None
    offset = v - np.float32(focus if followed is None else followed)
    blur = np.clip((np.abs(offset) - np.float32(focus_range)) * np.float32(aperture), 0.0, 1.0)
    coc = np.copysign(blur, offset).astype(np.float32)
    if subject is not None:
        coc = coc * (1.0 - _field_at(subject, image, "the subject mask"))
    light = _to_light(image)
    if image.alpha is None or float(image.alpha.min()) >= 1.0:  # nothing transparent
        blurred = _layered_defocus(light, coc, radius)
    else:
        # Gather alpha-weighted: the colour of transparent pixels (often black) must not
        # bleed into the visible ones. The gather is linear in the colour, so blurring
        # premultiplied colour and alpha alike and dividing gives the weighted mean
        # (a second pass: cut-outs cost about 1.5x).
        alpha3 = _bcast(image.alpha, 3)
        premult = _layered_defocus(np.asarray(cv2.multiply(light, alpha3)), coc, radius)
        cover = _layered_defocus(alpha3, coc, radius)
        blurred = np.asarray(cv2.divide(premult, np.maximum(cover, np.float32(1e-6))))
        blurred = np.where(cover > 1e-4, blurred, light)  # nothing visible gathered here
    out = _from_light(image, blurred)
    return _mixed(image, out, float(mix))


# -- halo -------------------------------------------------------------------------------
def _bloom(half: F32, radius: float) -> F32:
    """Sum of three Gaussians (radius/4, /2, /1, weights 1/2, 1/3, 1/6) of a half-size
    image: a tight core with a long soft tail, like a lens's glare, at near-constant cost
    (``gaussian_blur`` downscales further for the wide ones). ``radius`` is in full-size
    pixels; the result stays half-size."""
    import cv2

    acc = None
    for fraction, weight in ((0.25, 0.5), (0.5, 1 / 3), (1.0, 1 / 6)):
        sigma = radius * fraction * 0.25  # radius = 2 σ, halved for the half-size copy
        part = cv2.multiply(gaussian_blur(half, sigma), (weight, weight, weight, 0.0))
        acc = part if acc is None else cv2.add(acc, part)
    return np.asarray(acc)


# version 2: transparent pixels do not glow
@node("modulate.halo", outputs={"image": Image}, version=2)
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
    h, w = amount_v.shape
    light = _to_light(image)
    knee = 0.1
    # which pixels glow, at full size (a one-pixel highlight counts), then everything
    # blurred runs at half size: the glow has no detail to lose
    luma = luminance(image.pixels)
    if image.colorspace == "linear":  # the threshold is on perceived (gamma) brightness
        luma = np.sqrt(luma)
    key = smoothstep(threshold - knee, threshold + knee, luma) * amount_v
    if image.alpha is not None:  # an invisible pixel is no highlight
        key = key * image.alpha
    emit = cv2.multiply(_halve(light), _bcast(_halve(key), 3))
    tint_rgb = np.asarray(parse_color(tint), dtype=np.float32) ** 2 * np.float32(intensity)
    glow = cv2.multiply(
        _bloom(np.asarray(emit), scaled_radius(radius, (h, w))), (*tint_rgb.tolist(), 0.0)
    )
    glow = cv2.resize(np.minimum(glow, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    # screen: 1 - (1 - a)(1 - b) = a + b - a·b
    light = cv2.subtract(cv2.add(light, glow), cv2.multiply(light, glow))
    out = _from_light(image, np.asarray(light))
    return _mixed(image, out, float(mix))


# -- depth band -------------------------------------------------------------------------
def _posterize(pixels: F32, levels: int) -> F32:
    steps = np.float32(levels - 1)
    return (np.floor(pixels * steps + 0.5) / steps).astype(np.float32)


def _pixelate(pixels: F32, cell: float) -> F32:
    import cv2

    h, w = pixels.shape[:2]
    c = max(cell, 1.0)
    small = cv2.resize(
        pixels,
        (max(1, round(w / c)), max(1, round(h / c))),
        interpolation=cv2.INTER_AREA,
    )
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST))


def _toned(pixels: F32, rgb: NDArray[np.float32]) -> F32:
    """Monochrome in ``rgb``: each pixel's luma carried by the colour (brightness kept)."""
    import cv2

    luma = luminance(pixels)
    gain = rgb / max(float(rgb @ LUMA_709[0]), 1e-3)
    return np.asarray(cv2.multiply(_bcast(luma, 3), (*gain.tolist(), 0.0)))


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
    weight = _field_at(amount, image, "the amount field") * np.float32(mix)
    pixels = image.pixels
    if style == "posterize":
        styled = _posterize(pixels, levels)
    elif style == "tint":
        styled = _toned(pixels, _colour(colour, image))
    elif style == "desaturate":
        styled = _bcast(luminance(pixels), 3)
    elif style == "pixelate":
        styled = _pixelate(pixels, scaled_radius(cell, pixels.shape))
    else:
        if style_image is None:
            raise GatewayError("style 'image' needs an image connected to 'style_image'")
        styled = resized_to(style_image.pixels, image.size, "the style image")
        if style_image.alpha is not None:
            weight = weight * resized_to(style_image.alpha, image.size, "the style alpha")
    return _mixed(image, styled, weight)


# -- drawing ----------------------------------------------------------------------------
def _hatch(shape: tuple[int, int], period: float, darkness: F32, slope: int) -> F32:
    """Ink coverage (0..1) of 45° strokes whose width grows with ``darkness`` (0..1).

    Strokes run along x + slope·y = const, ``period`` pixels apart (rounded so the pattern
    tiles); a stroke's half-width is darkness · period / 2, anti-aliased over a pixel."""
    import cv2

    h, w = shape
    step = max(round(period * np.sqrt(2.0)), 3)  # along x; perpendicular ≈ period
    t = np.arange(step, dtype=np.float32)
    phase = (t[None, :] + slope * t[:, None]) % step / step  # one tile
    # distance (px, perpendicular) to the stroke centre, negated: -(period/2 - |.|)
    dist = np.abs(phase - 0.5) * np.float32(step / np.sqrt(2.0))
    neg_edge = (dist - np.float32(step / np.sqrt(2.0) / 2)).astype(np.float32)
    tiled = np.tile(neg_edge, (h // step + 1, w // step + 1))[:h, :w]
    half_period = float(step / np.sqrt(2.0) / 2)
    ink = cv2.scaleAdd(darkness, half_period, np.ascontiguousarray(tiled))
    return np.clip(ink, 0.0, 1.0, out=ink)


@node("modulate.drawing", outputs={"image": Image})
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
    import cv2

    weight = _field_at(amount, image, "the amount field") * np.float32(mix)
    if not weight.any():
        return image
    shape = weight.shape
    scale = pixel_scale(shape)
    # the marks follow perceived brightness: gamma-encode a linear image first
    src = image.pixels if image.colorspace == "srgb" else np.sqrt(image.pixels)
    grey = luminance(src)
    # pencil tone (colour dodge of the inverted blur): grey / blur(grey), deepened a little
    tone = cv2.divide(grey, np.maximum(gaussian_blur(grey, 10.0 * scale), 1e-3))
    tone = np.minimum(tone, 1.0, out=tone)
    tone = cv2.multiply(tone, tone)
    # ink lines: XDoG — a difference of Gaussians, positive on the dark side of an edge;
    # per colour channel (strongest wins) so edges between equally bright colours count
    sigma = max(line_weight * 0.5 * scale, 0.3)
    fine3 = cv2.GaussianBlur(src, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    coarse3 = cv2.GaussianBlur(src, (0, 0), sigma * 1.6, borderType=cv2.BORDER_REFLECT)
    dog3 = np.asarray(cv2.subtract(coarse3, fine3))
    # max over channels; cv2.reduce is ~20x faster than numpy's max(axis=2) here
    dog = cv2.reduce(dog3.reshape(-1, 3), 1, cv2.REDUCE_MAX).reshape(shape)
    fine = luminance(fine3)
    thr = 0.002 + 0.03 * (1.0 - detail)
    lines = cv2.multiply(cv2.subtract(dog, thr), 1.0 / (thr + 0.004))
    lines = np.clip(lines, 0.0, 1.0, out=lines)
    value = cv2.multiply(tone, 1.0 - lines)
    if hatching > 0.0:
        period = max(9.0 * scale, 3.0)
        dark = 1.0 - fine
        mid = (dark - 0.35) * np.float32(hatching / 0.5)
        mid = np.clip(mid, 0.0, 1.0, out=mid)
        deep = (dark - 0.6) * np.float32(hatching / 0.35)
        deep = np.clip(deep, 0.0, 1.0, out=deep)
        value = cv2.multiply(value, 1.0 - 0.7 * _hatch(shape, period, mid, 1))
        if deep.any():  # cross-hatching only where there are shadows
            value = cv2.multiply(value, 1.0 - 0.7 * _hatch(shape, period * 0.8, deep, -1))
    paper_rgb = _colour(paper, image)
    ink_rgb = _colour(ink, image)
    # sketch = ink + value·(paper - ink): one affine cv2.transform of the grey value
    colours = np.stack([paper_rgb - ink_rgb, ink_rgb], axis=1).astype(np.float32)  # 3x2
    sketch = np.asarray(cv2.transform(np.asarray(value)[..., None], colours))
    return _mixed(image, sketch, weight)


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

    weight = _field_at(amount, image, "the amount field") * np.float32(mix)
    a = image.pixels
    b = resized_to(layer.pixels, image.size, "the layer")
    if layer.alpha is not None:
        weight = weight * resized_to(layer.alpha, image.size, "the layer's alpha")
    if mode == "normal":
        top = b
    elif mode == "multiply":
        top = cv2.multiply(a, b)
    elif mode == "screen":
        top = cv2.subtract(cv2.add(a, b), cv2.multiply(a, b))
    elif mode == "overlay":
        low = 2.0 * a * b
        high = 1.0 - 2.0 * (1.0 - a) * (1.0 - b)
        top = np.where(a < 0.5, low, high)
    else:
        top = np.minimum(cv2.add(a, b), 1.0)
    return _mixed(image, np.asarray(top, dtype=np.float32), weight)
