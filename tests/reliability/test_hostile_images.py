"""Hostile images: bombs are refused from their header, within the memory budget; the
budget's estimate covers what decoding really takes; truncated files and metadata bombs
are clear errors; every EXIF orientation lands the right way up."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.engine import ImageReadError
from gateway_studio.engine.imageio import read_image
from gateway_studio.engine.limits import image_budget_bytes, image_working_set

from .conftest import photo_patch, png_bytes, run_cli

#: What a render may take beyond the image budget (the issue's bound).
OVERHEAD = 500 << 20


def test_a_400_mp_png_bomb_is_refused_from_its_header(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bytes(20_000, 20_000, rows=False))  # 138 bytes, 400 megapixels
    run = run_cli("render", str(photo_patch(tmp_path, "bomb.png")), env=cache_env)
    assert run.code == 1, run.stderr
    assert "bomb.png: refused, a 20000×20000 image" in run.stderr
    assert "GATEWAY_STUDIO_MAX_IMAGE_MB" in run.stderr and "memory budget" in run.stderr
    assert run.peak_rss < image_budget_bytes() + OVERHEAD
    print(f"400 MP bomb: peak RSS {run.peak_rss >> 20} MB, budget {image_budget_bytes() >> 20} MB")


def test_a_small_budget_refuses_a_real_bomb_and_renders_what_fits(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    """A 6,000 × 6,000 PNG of zeros (36 MP, a few hundred KB) against a 256 MB budget: refused
    before decoding; a 2,000 × 2,000 one fits and renders within budget + overhead."""
    env = {**cache_env, "GATEWAY_STUDIO_MAX_IMAGE_MB": "256"}
    (tmp_path / "big.png").write_bytes(png_bytes(6000, 6000))
    run = run_cli("render", str(photo_patch(tmp_path, "big.png", name="big.json")), env=env)
    assert run.code == 1 and "more than the image memory budget of 256.0 MB" in run.stderr
    refused_rss = run.peak_rss
    (tmp_path / "fits.png").write_bytes(png_bytes(2000, 2000))
    run = run_cli("render", str(photo_patch(tmp_path, "fits.png", name="fits.json")), env=env)
    assert run.code == 0, run.stderr
    assert run.peak_rss < (256 << 20) + OVERHEAD
    print(f"refused 36 MP: {refused_rss >> 20} MB; rendered 4 MP: {run.peak_rss >> 20} MB")


#: Peak memory of decoding one image: the kernel's high-water mark of this process, reset
#: once everything is imported (``clear_refs`` 5), minus the memory in use at that point.
MEASURE = """
import sys
from pathlib import Path
from gateway_studio.engine.imageio import read_image
def status(field):
    text = Path("/proc/self/status").read_text()
    return int(text.split(field + ":")[1].split()[0]) * 1024
Path("/proc/self/clear_refs").write_text("5")
base = status("VmRSS")
img = read_image(Path(sys.argv[1]))
print(status("VmHWM") - base)
"""


def _write_kind(path: Path, kind: str, n: int) -> tuple[int, int]:
    """Write a random image of ``kind``; (channels, bytes per sample) it decodes to."""
    import cv2

    rng = np.random.default_rng(1)
    if kind == "rgb16":
        cv2.imwrite(str(path), rng.integers(0, 65535, (n, n, 3), dtype=np.uint16))
        return 3, 2
    channels = {"gray": 1, "rgb": 3, "rgba": 4}[kind]
    shape = (n, n) if channels == 1 else (n, n, channels)
    PILImage.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(path, compress_level=1)
    return channels, 1


@pytest.mark.parametrize("kind", ["gray", "rgb", "rgba", "rgb16"])
def test_the_working_set_estimate_covers_what_decoding_takes(tmp_path: Path, kind: str) -> None:
    import subprocess
    import sys

    n = 2500
    path = tmp_path / f"{kind}.png"
    channels, bps = _write_kind(path, kind, n)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    measured = int(done.stdout)
    estimate = image_working_set(n, n, channels, bps)
    print(f"{kind}: decoding took {measured >> 20} MB, estimate {estimate >> 20} MB")
    assert measured <= estimate  # the budget check errs on the safe side


def test_truncated_and_corrupt_images_are_clear_errors(tmp_path: Path) -> None:
    buf = io.BytesIO()
    PILImage.fromarray(np.full((64, 64, 3), 99, np.uint8)).save(buf, "PNG")
    data = buf.getvalue()
    for name, payload in {
        "cut.png": data[: len(data) // 2],
        "header_only.png": data[:40],
        "garbage.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        "empty.png": b"",
    }.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(ImageReadError, match=re.escape(name)):
            read_image(tmp_path / name)
    jpeg = io.BytesIO()
    PILImage.fromarray(np.full((64, 64, 3), 99, np.uint8)).save(jpeg, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(jpeg.getvalue()[:300])
    with pytest.raises(ImageReadError, match=r"cut\.jpg"):
        read_image(tmp_path / "cut.jpg")


def _ztxt_bomb(megabytes: int) -> tuple[bytes, bytes]:
    z = zlib.compressobj(9)
    block = b"\0" * (1 << 20)
    text = b"".join(z.compress(block) for _ in range(megabytes)) + z.flush()
    return b"zTXt", b"Comment\0\0" + text


def test_metadata_bombs_are_refused_without_inflating_them(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    """A zTXt and an iCCP chunk that inflate to 256 MB each, in a 4×4 PNG."""
    ztxt = _ztxt_bomb(256)
    iccp = (b"iCCP", b"icc\0\0" + ztxt[1][len(b"Comment\0\0") :])
    for name, chunk in (("text_bomb.png", ztxt), ("icc_bomb.png", iccp)):
        (tmp_path / name).write_bytes(png_bytes(4, 4, extra=[chunk]))
        patch = photo_patch(tmp_path, name, name=f"{name}.json")
        run = run_cli("render", str(patch), env=cache_env)
        assert run.peak_rss < 250 << 20, (name, run.peak_rss)
        assert run.code == 1 and name in run.stderr  # Pillow's 1 MB limit per chunk
        assert "Decompressed data too large" in run.stderr
    # and a huge EXIF block is just metadata: read, ignored, bounded by the file size
    exif = (b"eXIf", b"MM\0*" + struct.pack(">I", 8) + b"\0" * (4 << 20))
    (tmp_path / "exif_blob.png").write_bytes(png_bytes(4, 4, extra=[exif]))
    assert read_image(tmp_path / "exif_blob.png").pixels.shape == (4, 4, 3)


# -- EXIF orientations ---------------------------------------------------------------------
#: What each EXIF orientation asks for, applied to the stored pixels (numpy, row-major).
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def _stored(h: int = 24, w: int = 40) -> np.ndarray:
    """Four flat quadrants of different colours: survives JPEG, shows every flip."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (250, 10, 10)
    a[: h // 2, w // 2 :] = (10, 250, 10)
    a[h // 2 :, : w // 2] = (10, 10, 250)
    a[h // 2 :, w // 2 :] = (250, 250, 10)
    return a


def _exif(orientation: int) -> bytes:
    """A TIFF-structured EXIF block holding only the orientation (as in a PNG eXIf chunk;
    a JPEG's APP1 adds the ``Exif\\0\\0`` marker)."""
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\0\0") else data


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_lands_upright(tmp_path: Path, orientation: int) -> None:
    import cv2

    stored = _stored()
    expected = np.ascontiguousarray(UPRIGHT[orientation](stored)).astype(np.float32) / 255
    jpg = tmp_path / f"o{orientation}.jpg"
    PILImage.fromarray(stored).save(jpg, quality=95, exif=b"Exif\0\0" + _exif(orientation))
    got = read_image(jpg).pixels
    assert got.shape == expected.shape
    assert np.abs(got - expected).mean() < 0.03  # JPEG error only: the layout is right
    # 16-bit colour PNG (decoded by OpenCV, rotated by our own table) with an eXIf chunk
    ok, encoded = cv2.imencode(
        ".png", cv2.cvtColor(stored.astype(np.uint16) * 257, cv2.COLOR_RGB2BGR)
    )
    assert ok
    raw = encoded.tobytes()
    chunk_at = 8 + 25  # after the signature and IHDR
    exif = _exif(orientation)
    crc = zlib.crc32(b"eXIf" + exif) & 0xFFFFFFFF
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", crc)
    png16 = tmp_path / f"o{orientation}.png"
    png16.write_bytes(raw[:chunk_at] + chunk + raw[chunk_at:])
    img = read_image(png16)
    assert img.bit_depth == 16
    np.testing.assert_allclose(img.pixels, expected, atol=1e-6)
