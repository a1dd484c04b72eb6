"""depth.fill: holes in depth filled from their surroundings, guided by the photo.

Every Depth already holds a value in its holes — the shared nearest-pixel fill — so that
effects never read a hole as "far". That fill cannot know where an object ends inside a
hole: a hole straddling a chair's edge takes whichever side is geometrically closer. ``depth.fill``
uses the photo to decide: joint-bilateral growth. Ring by ring from each hole's rim, a
hole pixel takes the colour-weighted mean depth of its measured (or already filled)
neighbours — a Gaussian on the colour distance, ``colour_sigma`` — but only once enough
of them share its colour, so every surface grows into the hole from its own side. A hole
in a red mug then takes the mug's depth, not the wall's beside it.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Context, Depth, GatewayError, Help, Image, Range, When, node

from ._filters import same_size

F32 = NDArray[np.float32]
#: Neighbourhood radius of one growth step (a 5x5 window).
_RADIUS = 2
#: A hole pixel is filled once the colour weights of its known neighbours sum to this
#: (about half a neighbour of its own colour); until then it waits for its own surface.
_ACCEPT = 0.5


def _step(
    out: F32,
    known: NDArray[np.bool_],
    guide: F32,
    ys: NDArray[np.intp],
    xs: NDArray[np.intp],
    inv_two_sigma2: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Colour-weighted sums (Σ w·depth, Σ w) over each frontier pixel's known neighbours."""
    h, w = known.shape
    num = np.zeros(ys.size)
    den = np.zeros(ys.size)
    colour = guide[ys, xs]
    for dy in range(-_RADIUS, _RADIUS + 1):
        for dx in range(-_RADIUS, _RADIUS + 1):
            ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
            ok = known[ny, nx]
            diff = ((colour - guide[ny, nx]) ** 2).sum(axis=1)
            wgt = np.where(ok, np.exp(-diff * inv_two_sigma2), 0.0)
            num += wgt * out[ny, nx]
            den += wgt
    return num, den


def guided_fill(values: F32, valid: NDArray[np.bool_], guide: F32, sigma: float) -> F32:
    """``values`` with the invalid pixels filled by colour-gated growth from the measured
    pixels: ring by ring from each hole's rim, a hole pixel takes the colour-weighted mean
    depth of its known neighbours (joint bilateral), but only once enough of them share
    its colour; so each surface grows into the hole from its own side. Where no pixel of
    a ring matches (texture, or a colour found nowhere), the best-matching neighbours
    are used so the growth never stalls."""
    import cv2

    out = np.array(values, dtype=np.float32)
    known = np.array(valid, dtype=bool)
    g = np.asarray(guide, dtype=np.float32)
    inv = 1.0 / (2.0 * sigma * sigma)
    kernel = np.ones((3, 3), np.uint8)
    while not known.all():
        frontier = (cv2.dilate(known.view(np.uint8), kernel) > 0) & ~known
        ys, xs = np.nonzero(frontier)
        num, den = _step(out, known, g, ys, xs, inv)
        accept = den >= _ACCEPT
        if not accept.any():  # no pixel of the ring matches: take the best matches
            accept = den > 0
        if not accept.any():  # colours so far off that every weight underflowed
            accept = np.ones(ys.size, dtype=bool)
            num, den = _step(out, known, np.zeros_like(g), ys, xs, inv)
        sel_y, sel_x = ys[accept], xs[accept]
        out[sel_y, sel_x] = (num[accept] / den[accept]).astype(np.float32)
        known[sel_y, sel_x] = True
    return np.clip(out, 0.0, 1.0)


@node(
    "depth.fill",
    outputs={"depth": Depth},
    family="depth",
    aliases=("holes", "hole fill", "inpaint depth", "sensor holes", "missing depth"),
)
def fill(
    depth: Depth,
    image: Image,
    *,
    method: Annotated[
        Literal["guided", "nearest"],
        Help(
            "guided: each hole takes the depth of nearby measured pixels of its own colour "
            "in the photo (joint-bilateral growth from the rim); nearest: the nearest measured "
            "pixel"
        ),
    ] = "guided",
    colour_sigma: Annotated[
        float,
        Range(0.01, 1, 0.01),
        Help(
            "guided: how different a colour may be and still pass its depth on (smaller "
            "= stricter edges; 1 = nearly ignore the photo)"
        ),
        When("method", "guided"),
    ] = 0.08,
    ctx: Context,
) -> Depth:
    """Fill the holes of a Depth (sensor dropouts, background) guided by the photo.

    The output has no holes: every consumer, point clouds included, uses the filled
    values; the fill is named in its provenance. A Depth without holes passes through."""
    if depth.valid is None:
        ctx.progress(1.0, "no holes to fill")
        return depth
    same_size(depth.values, image.size, "the depth")
    holes = depth.hole_fraction
    if method == "nearest":
        values = np.asarray(depth.values)  # already the shared nearest fill
    elif method == "guided":
        values = guided_fill(depth.values, depth.valid, image.srgb_pixels(), colour_sigma)
        values = np.where(depth.valid, depth.values, values).astype(np.float32)
    else:
        raise GatewayError(f"unknown fill method {method!r}; use 'guided' or 'nearest'")
    ctx.progress(1.0, f"filled {100 * holes:.1f} % of pixels ({method})")
    return depth.derived(values, f"filled {100 * holes:.1f} % ({method})", valid=None)
