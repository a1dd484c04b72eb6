"""Image IO: bit depths, modes, EXIF orientation, bombs and truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.engine import GatewayError, Image, ImageReadError, imageio
from gateway_studio.engine.imageio import image_from_array, read_image, write_array, write_image


def gradient(h: int = 12, w: int = 20) -> np.ndarray:
    x = np.linspace(0, 1, w, dtype=np.float32)
    rgb = np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 0.5)], 2)
    return rgb.astype(np.float32)


def test_png_8bit_rgb_and_alpha(tmp_path: Path) -> None:
    arr = (gradient() * 255).round().astype(np.uint8)
    PILImage.fromarray(arr).save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.size == (12, 20) and img.bit_depth == 8 and img.alpha is None
    np.testing.assert_allclose(img.pixels, arr / 255.0, atol=1e-6)
    rgba = np.dstack([arr, np.full(arr.shape[:2], 128, np.uint8)])
    PILImage.fromarray(rgba).save(tmp_path / "b.png")
    assert read_image(tmp_path / "b.png").alpha == pytest.approx(np.full((12, 20), 128 / 255))


def test_16bit_gray_and_colour_keep_precision(tmp_path: Path) -> None:
    gray = np.arange(0, 65535, 65535 // 240, dtype=np.uint16)[:240].reshape(12, 20)
    PILImage.fromarray(gray).save(tmp_path / "g16.png")
    img = read_image(tmp_path / "g16.png")
    assert img.bit_depth == 16
    np.testing.assert_allclose(img.pixels[..., 0], gray / 65535.0, atol=1e-6)
    rgb16 = gradient()
    write_array(tmp_path / "c16.png", rgb16, bit_depth=16)
    back = read_image(tmp_path / "c16.png")
    assert back.bit_depth == 16
    np.testing.assert_allclose(back.pixels, rgb16, atol=1 / 65535)
    write_array(tmp_path / "c16.tif", rgb16, bit_depth=16)
    assert read_image(tmp_path / "c16.tif").bit_depth == 16


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA", "I", "F"])
def test_other_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    base = PILImage.fromarray((gradient() * 255).astype(np.uint8))
    img = base.convert(mode) if mode not in ("I", "F") else base.convert("L").convert(mode)
    suffix = ".tif" if mode in ("CMYK", "F", "I") else ".png"
    img.save(tmp_path / f"x{suffix}")
    out = read_image(tmp_path / f"x{suffix}")
    assert out.pixels.shape == (12, 20, 3) and out.pixels.dtype == np.float32
    assert out.pixels.min() >= 0.0 and out.pixels.max() <= 1.0


def test_jpeg_and_webp(tmp_path: Path) -> None:
    base = PILImage.fromarray((gradient() * 255).astype(np.uint8))
    base.save(tmp_path / "x.jpg", quality=95)
    base.save(tmp_path / "x.webp", lossless=True)
    assert read_image(tmp_path / "x.jpg").size == (12, 20)
    np.testing.assert_allclose(
        read_image(tmp_path / "x.webp").pixels, np.asarray(base) / 255, atol=1e-6
    )


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, :5] = 255  # white stripe on the left
    img = PILImage.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes(), quality=100)
    out = read_image(tmp_path / "r.jpg")
    assert out.size == (30, 10)
    assert out.pixels[:5].mean() > 0.9  # the left stripe is now on top


def test_exif_orientation_on_16bit_colour(tmp_path: Path) -> None:
    write_array(tmp_path / "c.png", gradient(), bit_depth=16)
    img = PILImage.open(tmp_path / "c.png")
    assert imageio._is_16bit_color(img)


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "none.png")
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(ImageReadError, match="not an image"):
        read_image(tmp_path / "t.txt")
    PILImage.fromarray((gradient(200, 200) * 255).astype(np.uint8)).save(tmp_path / "big.png")
    data = (tmp_path / "big.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(tmp_path / "cut.png")
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100)
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(tmp_path / "big.png")


def test_writers(tmp_path: Path) -> None:
    img = Image(gradient(), np.full((12, 20), 0.5, np.float32))
    write_image(tmp_path / "o.png", img)
    back = read_image(tmp_path / "o.png")
    assert back.alpha is not None and back.bit_depth == 8
    write_image(tmp_path / "o.jpg", img)  # alpha dropped, 8 bit
    assert read_image(tmp_path / "o.jpg").alpha is None
    write_image(tmp_path / "o16.png", img, bit_depth=16)
    assert read_image(tmp_path / "o16.png").bit_depth == 16
    write_array(tmp_path / "f.png", np.full((4, 4), 0.5, np.float32))
    assert read_image(tmp_path / "f.png").size == (4, 4)
    with pytest.raises(GatewayError, match=r"cannot write '\.gif'"):
        write_image(tmp_path / "o.gif", img)
    assert not list(tmp_path.glob(".*tmp"))


def test_image_from_array() -> None:
    assert image_from_array(np.zeros((2, 3), np.uint8)).size == (2, 3)
    assert image_from_array(np.zeros((2, 3, 3), np.uint16)).bit_depth == 16
    assert image_from_array(np.ones((2, 3, 4), np.float64)).alpha is not None
