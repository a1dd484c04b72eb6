"""Faces drive focus: isolate's focus follows the chosen face's depth from faces.detect,
as an input — move the face to another depth and the focus moves with it."""

from __future__ import annotations

import numpy as np
from skimage import data

import nodes.faces as F
from gateway_studio.engine import Context, Depth, Image
from nodes.modulation import isolate


def scene(face_x: int) -> tuple[Image, Depth, tuple[int, int, int, int]]:
    """A textured canvas with the astronaut's head at column ``face_x``, in front of a
    depth ramp (left far, right near); the head's own depth is the ramp's at its place."""
    rng = np.random.default_rng(3)
    canvas = 0.35 + 0.3 * rng.random((480, 1000, 3))
    crop = data.astronaut()[20:230, 120:330] / 255.0
    y, h, w = 60, 210, 210
    canvas[y : y + h, face_x : face_x + w] = crop
    ramp = np.tile(np.linspace(0.05, 0.95, 1000, dtype=np.float32), (480, 1))
    ramp[y : y + h, face_x : face_x + w] = ramp[0, face_x + w // 2]  # the head: one depth
    return Image(canvas.astype(np.float32)), Depth(ramp), (y, face_x, h, w)


def sharpness(image: Image, rect: tuple[int, int, int, int]) -> float:
    y, x, h, w = rect
    patch = image.pixels[y + 40 : y + h - 40, x + 40 : x + w - 40, 1]
    return float(np.abs(np.diff(patch, axis=1)).mean())


def test_focus_follows_the_face_wherever_it_is() -> None:
    for face_x in (60, 700):  # far left, then near right: very different depths
        photo, depth, rect = scene(face_x)
        faces = F.detect(photo, depth, detect_size=1000, ctx=Context())["faces"]
        assert len(faces.faces) >= 1
        out = isolate(
            photo, depth, None, faces, focus=0.0, focus_range=0.03, aperture=8.0, max_radius=24
        )
        knob_only = isolate(photo, depth, focus=0.0, focus_range=0.03, aperture=8.0)
        # the head stays as sharp as the photo; with the knob alone (far focus) it blurs
        assert sharpness(out, rect) > 0.9 * sharpness(photo, rect)
        assert sharpness(knob_only, rect) < 0.6 * sharpness(photo, rect)


def test_no_such_face_leaves_the_knob_in_charge() -> None:
    photo, depth, _rect = scene(60)
    faces = F.detect(photo, depth, detect_size=1000, ctx=Context())["faces"]
    by_knob = isolate(photo, depth, focus=0.9, aperture=8.0)
    missing = isolate(photo, depth, None, faces, focus=0.9, face=7, aperture=8.0)
    np.testing.assert_array_equal(missing.pixels, by_knob.pixels)
