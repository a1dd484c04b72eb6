"""Sources: photos from files, scikit-image samples, and the RGB-D samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Context, Depth, GatewayError, Image
from nodes.sources import _fill_invalid, image, sample, sample_rgbd
from tests.conftest import RESOURCES


def test_source_image_resolves_relative_paths_against_the_patch_folder() -> None:
    img = image(path="images/scene.png", ctx=Context(base_dir=RESOURCES))
    assert isinstance(img, Image) and img.size == (640, 960)
    with pytest.raises(GatewayError, match="no image chosen"):
        image(path="", ctx=Context())


def test_sample_photos() -> None:
    assert sample(name="coffee").size == (400, 600)


def test_motorcycle_depth_follows_the_convention() -> None:
    out = sample_rgbd(name="motorcycle", ctx=Context())
    img, depth = out["image"], out["depth"]
    assert isinstance(depth, Depth) and depth.size == img.size == (500, 741)
    assert depth.source_convention == "disparity"
    # the motorcycle (centre) is nearer than the shelves behind it (top right)
    assert depth.values[300:380, 300:450].mean() > depth.values[20:100, 500:700].mean() + 0.2


def test_scene_sample_matches_the_files() -> None:
    out = sample_rgbd(name="scene", ctx=Context())
    assert out["image"].size == out["depth"].size == (640, 960)


def test_fill_invalid_leaves_valid_pixels_and_fills_holes() -> None:
    disp = np.tile(np.linspace(10, 50, 32, dtype=np.float32), (16, 1))
    holed = disp.copy()
    holed[5:8, 10:14] = np.inf
    filled = _fill_invalid(holed)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[0], disp[0])
    assert abs(float(filled[6, 12]) - float(disp[6, 12])) < 3.0


def test_a_missing_photo_is_named(tmp_path: Path) -> None:
    with pytest.raises(GatewayError, match="no such file"):
        image(path=str(tmp_path / "none.png"), ctx=Context())
