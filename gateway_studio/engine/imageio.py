"""Reading and writing images as ``Image`` slots.

Reads PNG, JPEG, TIFF, WebP, and HEIC/HEIF/AVIF through pillow-heif — 8 and 16 bit,
grayscale, palette, alpha, CMYK — applies the EXIF orientation, and refuses decompression
bombs and truncated or corrupt files with an ``ImageReadError`` naming the file. Pillow
decodes; OpenCV decodes 16-bit colour PNG/TIFF (Pillow reduces those to 8 bit). Writes
PNG (8/16 bit), JPEG and TIFF (8/16 bit).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from .errors import GatewayError, ImageReadError
from .files import atomic_write
from .limits import check_image_budget
from .paths import PathRefused, check_regular
from .slots import Image

#: Largest image we open (pixels); larger files are treated as decompression bombs.
MAX_PIXELS = 40_000 * 40_000 // 4  # 400 megapixels

READ_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".webp",
    ".bmp",
    ".heic",
    ".heif",
    ".hif",
    ".avif",
)
#: Phone formats pillow-heif decodes (HEIC/HEIF from iPhones, AVIF).
HEIF_SUFFIXES = (".heic", ".heif", ".hif", ".avif")
_heif_ready = False


def ensure_heif() -> None:
    """Register pillow-heif's HEIF and AVIF openers with Pillow (once, on first use)."""
    global _heif_ready
    if _heif_ready:
        return
    try:
        import pillow_heif
    except ImportError:
        raise ImageReadError(
            "reading HEIC/HEIF/AVIF needs pillow-heif (pip install pillow-heif)"
        ) from None
    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()
    _heif_ready = True


WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


#: (channels, bytes per sample) Pillow decodes each mode to, for the memory budget.
_MODE_LAYOUT = {
    "1": (1, 1),
    "L": (1, 1),
    "P": (1, 1),
    "LA": (2, 1),
    "PA": (2, 1),
    "I;16": (1, 2),
    "I;16L": (1, 2),
    "I;16B": (1, 2),
    "I;16N": (1, 2),
    "I": (1, 4),
    "F": (1, 4),
}


def _check_budget(path: Path, img: PILImage.Image) -> None:
    """The memory budget (``limits.check_image_budget``), from the header alone."""
    channels, bps = _MODE_LAYOUT.get(img.mode, (len(img.getbands()), 1))
    if img.mode == "P" and "transparency" in img.info:
        channels = 2  # decoded with its alpha
    if _is_16bit_color(img):
        bps = 2  # decoded by OpenCV at full depth
    check_image_budget(path, img.width, img.height, channels, bps)


def open_pil(path: Path) -> PILImage.Image:
    """Open and decode an image: a regular file (never a device or FIFO), within the pixel
    limit and the memory budget (both checked from the header, before decoding)."""
    if path.suffix.lower() in HEIF_SUFFIXES:
        ensure_heif()
    try:
        check_regular(path)
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except PathRefused as exc:  # a device, FIFO, socket or folder
        raise ImageReadError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: cannot read it ({exc})") from None
    previous = PILImage.MAX_IMAGE_PIXELS
    try:
        PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            img = PILImage.open(path)
            try:
                _check_budget(path, img)
            except ImageReadError:
                img.close()
                raise
            img.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageReadError(
            f"{path}: refused, too many pixels (decompression bomb?): {exc}"
        ) from None
    except UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image file Gateway Studio can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from None
    finally:
        PILImage.MAX_IMAGE_PIXELS = previous
    return img


def _is_16bit_color(img: PILImage.Image) -> bool:
    """Pillow decodes 16-bit RGB(A) PNG/TIFF to 8 bit; detect those to decode with cv2."""
    if img.format == "PNG":
        return img.mode in ("RGB", "RGBA") and _png_bit_depth(img) == 16
    if img.format == "TIFF":
        bits = img.tag_v2.get(258) if hasattr(img, "tag_v2") else None
        return (
            img.mode in ("RGB", "RGBA")
            and bits is not None
            and max(bits if isinstance(bits, tuple) else (bits,)) == 16
        )
    return False


def _png_bit_depth(img: PILImage.Image) -> int:
    fp = getattr(img, "filename", None)
    if not fp:
        return 8
    with open(fp, "rb") as f:
        head = f.read(33)
    return head[24] if len(head) >= 25 and head[12:16] == b"IHDR" else 8


def _decode_16bit_color(path: Path) -> NDArray[np.float32] | None:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    if arr.shape[2] == 4:
        return np.asarray(cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA))
    return np.asarray(cv2.cvtColor(arr, cv2.COLOR_BGR2RGB))


_ROTATIONS = {
    3: lambda a: np.rot90(a, 2),
    6: lambda a: np.rot90(a, -1),
    8: lambda a: np.rot90(a, 1),
    2: lambda a: a[:, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.rot90(a, 1)[::-1],
    7: lambda a: np.rot90(a, -1)[::-1],
}


def apply_orientation(array: NDArray[Any], orientation: int) -> NDArray[Any]:
    """An (H, W[, C]) array as EXIF ``orientation`` (1–8) says to show it."""
    return np.ascontiguousarray(_ROTATIONS.get(orientation, lambda a: a)(array))


def read_image(path: str | Path) -> Image:
    """Read an image file into an ``Image`` slot (sRGB; 8/16-bit files stay uint8/uint16,
    converted to float where a node computes)."""
    path = Path(path)
    img = open_pil(path)
    orientation = img.getexif().get(0x0112, 1)
    if _is_16bit_color(img):
        arr = _decode_16bit_color(path)
        if arr is not None:
            arr = np.ascontiguousarray(_ROTATIONS.get(orientation, lambda a: a)(arr))
            alpha = _unit(arr[..., 3]) if arr.shape[2] == 4 else None
            return Image(np.ascontiguousarray(arr[..., :3]), alpha, "srgb", 16)
    img = ImageOps.exif_transpose(img)
    return _from_pil(img, path)


def _unit(samples: NDArray[Any]) -> NDArray[np.float32]:
    """uint8/uint16 samples → float32 in [0, 1] (alpha planes)."""
    peak = np.float32(255.0 if samples.dtype == np.uint8 else 65535.0)
    return np.ascontiguousarray(np.divide(samples, peak, dtype=np.float32))


def _from_pil(img: PILImage.Image, path: Path) -> Image:
    mode = img.mode
    alpha: NDArray[np.float32] | None = None
    data: NDArray[Any]
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img)
        if mode.startswith("I;16") or int(arr.max(initial=0)) > 255:
            gray = np.clip(arr, 0, 65535).astype(np.uint16)
        else:
            gray = np.clip(arr, 0, 255).astype(np.uint8)
        data = np.repeat(gray[..., None], 3, axis=2)
    elif mode == "F":
        gray = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        data = np.repeat(gray[..., None], 3, axis=2)
    else:
        has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info)
        if has_alpha:
            rgba = np.asarray(img.convert("RGBA"))
            data, alpha = rgba[..., :3], _unit(rgba[..., 3])
        else:
            # CMYK, YCbCr, LAB, P, 1, L: Pillow's conversion handles each
            data = np.asarray(img.convert("RGB"))
    if data.size == 0:
        raise ImageReadError(f"{path}: the image is empty")
    bit_depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(data.dtype, 32)
    return Image(np.ascontiguousarray(data), alpha, "srgb", bit_depth)


def image_from_array(array: NDArray[Any]) -> Image:
    """uint8/uint16/float (H, W[, 3|4]) → Image (for sample data and tests); 8/16-bit
    samples are kept as they are."""
    arr = np.asarray(array)
    if arr.dtype not in (np.uint8, np.uint16):
        arr = np.clip(arr.astype(np.float32), 0, 1)
    bits = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(arr.dtype, 8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    alpha = None
    if arr.shape[2] == 4:
        alpha = _unit(arr[..., 3]) if arr.dtype != np.float32 else np.ascontiguousarray(arr[..., 3])
    return Image(np.ascontiguousarray(arr[..., :3]), alpha, "srgb", bits)


def encode_array(
    array: NDArray[Any], suffix: str, *, bit_depth: int = 8, quality: int = 95
) -> bytes:
    """float [0, 1] (H, W), (H, W, 3) or (H, W, 4) → encoded file bytes. uint8 / uint16
    samples at the same bit depth are written as they are (no float round trip)."""
    import cv2

    suffix = suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise GatewayError(f"cannot write '{suffix}' files; use one of {', '.join(WRITE_SUFFIXES)}")
    if suffix in (".jpg", ".jpeg"):
        bit_depth = 8  # JPEG is 8-bit only
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[..., :3]
    data: NDArray[Any]
    native = {8: np.uint8, 16: np.uint16}.get(bit_depth)
    if native is not None and array.dtype == native:
        data = np.asarray(array)
    else:
        data = _quantised(array, bit_depth)
    if data.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if data.shape[2] == 4 else cv2.COLOR_RGB2BGR
        data = cv2.cvtColor(data, code)
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    ok, buf = cv2.imencode(suffix, data, params)
    if not ok:
        raise GatewayError(f"could not encode a {suffix} image")
    return bytes(buf.tobytes())


#: Rows quantised at a time: the float temporaries stay a strip, not frames.
_QUANTISE_ROWS = 256


def _quantised(array: NDArray[Any], bit_depth: int) -> NDArray[Any]:
    """Samples of any type → uint8 / uint16 (rounded; integers rescaled by their peak),
    a strip of rows at a time so a 33 MP float frame costs no extra full-frame copies."""
    out_type, top = (np.uint16, 65535.0) if bit_depth == 16 else (np.uint8, 255.0)
    scale = np.float32(top)
    if array.dtype in (np.uint8, np.uint16):
        scale = np.float32(top / (255.0 if array.dtype == np.uint8 else 65535.0))
    data = np.empty(array.shape, dtype=out_type)
    for start in range(0, array.shape[0], _QUANTISE_ROWS):
        rows = np.asarray(array[start : start + _QUANTISE_ROWS], dtype=np.float32) * scale
        np.clip(rows, 0.0, top, out=rows)
        np.rint(rows, out=rows)
        data[start : start + _QUANTISE_ROWS] = rows
    return data


def write_array(
    path: str | Path, array: NDArray[Any], *, bit_depth: int = 8, quality: int = 95
) -> Path:
    path = Path(path)
    atomic_write(path, encode_array(array, path.suffix, bit_depth=bit_depth, quality=quality))
    return path


def write_image(
    path: str | Path, image: Image, *, bit_depth: int | None = None, quality: int = 95
) -> Path:
    """Write an Image (with its alpha where the format has it); 16 bit where asked/kept."""
    bits = bit_depth if bit_depth is not None else (16 if image.bit_depth >= 16 else 8)
    array: NDArray[Any] = image.pixels
    if image.alpha is not None:
        array = np.dstack([image.pixels, image.alpha])
    return write_array(path, array, bit_depth=bits, quality=quality)
