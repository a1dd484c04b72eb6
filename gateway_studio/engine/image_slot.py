"""The ``Image`` slot: RGB pixels at the precision they were decoded or computed in.

Its contract is stated in ``slots``' docstring (the conventions module re-exports it)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError
from .slot_base import FloatArray, Slot, _check_field_array, _frozen, _resize_array


def srgb_encode(linear: NDArray[Any]) -> FloatArray:
    """Linear light → sRGB-encoded values (the IEC 61966-2-1 curve): what files and
    screens show, and what models were trained on."""
    lin = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    encoded = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return encoded.astype(np.float32)


def srgb_decode(encoded: NDArray[Any]) -> FloatArray:
    """sRGB-encoded values → linear light: the inverse of ``srgb_encode``'s IEC 61966-2-1
    curve (what scene-linear files such as OpenEXR hold)."""
    enc = np.clip(np.asarray(encoded, dtype=np.float32), 0.0, 1.0)
    linear = np.where(enc <= 0.04045, enc / 12.92, np.power((enc + 0.055) / 1.055, 2.4))
    return linear.astype(np.float32)


#: Integer sample types an Image keeps as decoded (8- and 16-bit photos), and their peak.
_NATIVE_PEAK: dict[Any, float] = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


_UNIT_TABLES: dict[Any, FloatArray] = {}


def _unit_float(samples: NDArray[Any]) -> FloatArray:
    """uint8 / uint16 samples → float32 v / peak, exactly as the division gives, through a
    lookup table (one gather: ~2× faster than dividing 100 M samples)."""
    table = _UNIT_TABLES.get(samples.dtype)
    if table is None:
        peak = _NATIVE_PEAK[samples.dtype]
        table = np.arange(int(peak) + 1, dtype=np.float32) / np.float32(peak)
        _UNIT_TABLES[samples.dtype] = table
    out: FloatArray = table[samples]
    return out


@dataclass(frozen=True, eq=False)
class Image(Slot):
    """An RGB picture. ``data`` is what was decoded or computed: uint8 / uint16 for 8- and
    16-bit photos (kept at their own precision in memory and in the cache: a 12 MP photo
    is 36 MB, not 145 MB), float32 in [0, 1] for computed images. ``pixels`` is the
    float32 view every node computes with, converted on first use and shared while
    anyone holds it (a weak reference: it is freed when the node is done)."""

    data: NDArray[Any]
    alpha: FloatArray | None = None
    colorspace: Literal["srgb", "linear"] = "srgb"
    bit_depth: int = 8

    type_name: ClassVar[str] = "Image"

    def __post_init__(self) -> None:
        data = self.data
        if isinstance(data, np.ndarray) and data.dtype in _NATIVE_PEAK:
            if data.ndim != 3 or data.size == 0:
                raise SlotError(
                    f"Image.pixels: expected a non-empty (H, W, 3) array, got {data.shape}"
                )
        else:
            _check_field_array("Image.pixels", data, ndim=3)
        if data.shape[2] != 3:
            raise SlotError(f"Image.pixels: expected 3 channels, got shape {data.shape}")
        if self.alpha is not None:
            _check_field_array("Image.alpha", self.alpha)
            if self.alpha.shape != data.shape[:2]:
                raise SlotError(
                    f"Image.alpha: shape {self.alpha.shape} differs from the image {data.shape[:2]}"
                )
        if self.colorspace not in ("srgb", "linear"):
            raise SlotError(f"Image.colorspace: unknown colorspace {self.colorspace!r}")
        if self.bit_depth not in (8, 16, 32):
            raise SlotError(f"Image.bit_depth: expected 8, 16 or 32, got {self.bit_depth}")
        object.__setattr__(self, "data", _frozen(data))
        object.__setattr__(self, "_float", None)
        if self.alpha is not None:
            object.__setattr__(self, "alpha", _frozen(self.alpha))

    @property
    def pixels(self) -> FloatArray:
        """float32 (H, W, 3) in [0, 1], read-only: the values nodes compute with."""
        data = self.data
        peak = _NATIVE_PEAK.get(data.dtype)
        if peak is None:
            return data
        ref = self._float  # type: ignore[attr-defined]
        alive = ref() if ref is not None else None
        if alive is not None:
            return alive  # type: ignore[no-any-return]
        values = _unit_float(data)
        values.flags.writeable = False
        object.__setattr__(self, "_float", weakref.ref(values))
        return values

    def strided(self, step: int) -> FloatArray:
        """Every ``step``-th pixel as float32, converting only those (thumbnails)."""
        data = self.data[::step, ::step]
        if data.dtype not in _NATIVE_PEAK:
            return np.asarray(data, dtype=np.float32)
        return _unit_float(data)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.data.shape[0]), int(self.data.shape[1])

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        arrays: dict[str, NDArray[Any]] = {"pixels": self.data}
        if self.alpha is not None:
            arrays["alpha"] = self.alpha
        return arrays, {"colorspace": self.colorspace, "bit_depth": self.bit_depth}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Image:
        return cls(
            arrays["pixels"], arrays.get("alpha"), meta["colorspace"], int(meta["bit_depth"])
        )

    def resized(self, height: int, width: int) -> Image:
        if self.data.dtype in _NATIVE_PEAK:  # area-averaged in its own sample type
            data = _resize_array(self.data, height, width, nearest=False)
        else:
            data = np.clip(_resize_array(self.data, height, width, nearest=False), 0, 1)
            data = data.astype(np.float32)
        alpha = None
        if self.alpha is not None:
            alpha = np.clip(_resize_array(self.alpha, height, width, nearest=False), 0, 1)
        return Image(data, alpha, self.colorspace, self.bit_depth)

    def srgb_rows(self, top: int, bottom: int) -> FloatArray:
        """Rows ``top:bottom`` of ``srgb_pixels()``, converting only those (strip work)."""
        data = self.data[top:bottom]
        rows = _unit_float(data) if data.dtype in _NATIVE_PEAK else data
        return srgb_encode(rows) if self.colorspace == "linear" else rows

    def linear_rows(self, top: int, bottom: int) -> FloatArray:
        """Rows ``top:bottom`` of the pixels in linear light (``srgb_decode`` of an sRGB
        image; a linear image as it is), converting only those (strip work)."""
        data = self.data[top:bottom]
        rows = _unit_float(data) if data.dtype in _NATIVE_PEAK else data
        return srgb_decode(rows) if self.colorspace == "srgb" else rows

    def srgb_pixels(self) -> FloatArray:
        """The pixels sRGB-encoded (as they are, when the image already is sRGB)."""
        return srgb_encode(self.pixels) if self.colorspace == "linear" else self.pixels

    def with_pixels(self, pixels: NDArray[Any]) -> Image:
        """A new Image with other pixels and the same alpha/colorspace/bit depth."""
        return Image(
            np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False),
            self.alpha,
            self.colorspace,
            self.bit_depth,
        )
