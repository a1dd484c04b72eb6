"""Slot types and their value contracts — the one place the conventions live.

Every value that travels along a wire is one of the classes below. Each validates its
contract on construction, so a node can trust what it receives and never re-decides a
convention. Slots are immutable: their arrays are made read-only, and nodes build new
slots instead of mutating inputs.

Contracts
---------
``Image``      float32 (H, W, 3) in [0, 1]; ``colorspace`` says "srgb" or "linear";
               optional ``alpha`` float32 (H, W) in [0, 1]; ``bit_depth`` records the
               source's bits per channel (8 or 16) so an export can keep them.
``Depth``      **inverse depth**, float32 (H, W) in [0, 1], **1.0 = nearest, 0.0 =
               farthest**, same size as the image it came from. Only the ``Depth.from_*``
               constructors turn other conventions (metric depth, disparity, encoded 8/16
               bit images) into it; each names the convention it reads. Beside the values
               it keeps the raw range it saw and the normalisation it applied.
``Field``      float32 (H, W) in [0, 1]: "how much" of an effect, per pixel.
``Mask``       a Field whose values are exactly 0 or 1 (a step function of a field).
``Segments``   int32 (H, W) label map, label ``i`` named ``names[i]``; -1 = unlabelled.
``Faces``      faces sorted near → far, each a box (x, y, w, h) in image pixels, a score,
               optional five (x, y) landmarks and the mean Depth over its box.
``Normals``    float32 (H, W, 3) unit vectors, camera frame: +X right, +Y up, +Z toward
               the camera.
``PointCloud`` float32 (N, 3) points (camera frame as Normals, units of ``unit``) and
               float32 (N, 3) colours in [0, 1].

Compatibility: an input accepts its own type and subclasses (a Mask is a Field); a Field
input also accepts a Depth (depth is a field: 1 = near). ``coerce`` does that conversion.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError

FloatArray = NDArray[np.float32]
Normalisation = Literal["minmax", "percentile", "fixed"]

#: The camera frame every geometric slot uses.
CAMERA_FRAME = "camera: +X right, +Y up, +Z toward the camera"


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    """Return a read-only view so no node can mutate a value shared with others."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def _check_field_array(name: str, values: NDArray[Any], *, ndim: int = 2) -> FloatArray:
    if not isinstance(values, np.ndarray):
        raise SlotError(f"{name}: expected a numpy array, got {type(values).__name__}")
    if values.dtype != np.float32:
        raise SlotError(f"{name}: expected dtype float32, got {values.dtype}")
    if values.ndim != ndim:
        raise SlotError(f"{name}: expected {ndim} dimensions, got shape {values.shape}")
    if values.size == 0:
        raise SlotError(f"{name}: the array is empty (shape {values.shape})")
    lo, hi = float(values.min()), float(values.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise SlotError(f"{name}: contains NaN or infinite values")
    if lo < 0.0 or hi > 1.0:
        raise SlotError(f"{name}: values must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]")
    return values


class Slot(ABC):
    """Base of all slot types. Subclasses are frozen dataclasses."""

    type_name: ClassVar[str] = "Slot"
    #: Other slot types an input of this type accepts (besides subclasses).
    accepts: ClassVar[tuple[type[Slot], ...]] = ()

    @classmethod
    def accepts_type(cls, other: type[Slot]) -> bool:
        return issubclass(other, cls) or any(issubclass(other, a) for a in cls.accepts)

    @classmethod
    def coerce(cls, value: Slot) -> Slot:
        """Convert an accepted value to this type (identity for subclasses)."""
        if isinstance(value, cls):
            return value
        raise SlotError(f"cannot use a {value.type_name} where a {cls.type_name} is expected")

    # -- serialisation (cache): arrays + JSON-able metadata, never pickle -------------
    @abstractmethod
    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """The slot as named arrays plus JSON-able metadata (what the disk cache stores)."""

    @classmethod
    @abstractmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Slot:
        """Rebuild a slot from ``to_arrays``'s output (validated like any construction)."""

    @property
    def nbytes(self) -> int:
        arrays, _ = self.to_arrays()
        return sum(int(a.nbytes) for a in arrays.values())

    @property
    def size(self) -> tuple[int, int] | None:
        """(height, width) of raster slots; None for slots without a raster."""
        return None

    def resized(self, height: int, width: int) -> Slot:
        """A copy at another raster size (preview proxies). Non-raster slots scale coords."""
        return self


def _resize_array(values: NDArray[Any], height: int, width: int, *, nearest: bool) -> Any:
    import cv2

    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(values, (width, height), interpolation=interp)


# ----------------------------------------------------------------------------- Image
def srgb_encode(linear: NDArray[Any]) -> FloatArray:
    """Linear light → sRGB-encoded values (the IEC 61966-2-1 curve): what files and
    screens show, and what models were trained on."""
    lin = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    encoded = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return encoded.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Image(Slot):
    pixels: FloatArray
    alpha: FloatArray | None = None
    colorspace: Literal["srgb", "linear"] = "srgb"
    bit_depth: int = 8

    type_name: ClassVar[str] = "Image"

    def __post_init__(self) -> None:
        _check_field_array("Image.pixels", self.pixels, ndim=3)
        if self.pixels.shape[2] != 3:
            raise SlotError(f"Image.pixels: expected 3 channels, got shape {self.pixels.shape}")
        if self.alpha is not None:
            _check_field_array("Image.alpha", self.alpha)
            if self.alpha.shape != self.pixels.shape[:2]:
                raise SlotError(
                    f"Image.alpha: shape {self.alpha.shape} differs from the image "
                    f"{self.pixels.shape[:2]}"
                )
        if self.colorspace not in ("srgb", "linear"):
            raise SlotError(f"Image.colorspace: unknown colorspace {self.colorspace!r}")
        if self.bit_depth not in (8, 16, 32):
            raise SlotError(f"Image.bit_depth: expected 8, 16 or 32, got {self.bit_depth}")
        object.__setattr__(self, "pixels", _frozen(self.pixels))
        if self.alpha is not None:
            object.__setattr__(self, "alpha", _frozen(self.alpha))

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        arrays: dict[str, NDArray[Any]] = {"pixels": self.pixels}
        if self.alpha is not None:
            arrays["alpha"] = self.alpha
        return arrays, {"colorspace": self.colorspace, "bit_depth": self.bit_depth}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Image:
        return cls(
            arrays["pixels"], arrays.get("alpha"), meta["colorspace"], int(meta["bit_depth"])
        )

    def resized(self, height: int, width: int) -> Image:
        pixels = np.clip(_resize_array(self.pixels, height, width, nearest=False), 0, 1)
        alpha = None
        if self.alpha is not None:
            alpha = np.clip(_resize_array(self.alpha, height, width, nearest=False), 0, 1)
        return Image(pixels.astype(np.float32), alpha, self.colorspace, self.bit_depth)

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


# ----------------------------------------------------------------------------- Fields
@dataclass(frozen=True, eq=False)
class Field(Slot):
    values: FloatArray

    type_name: ClassVar[str] = "Field"

    def __post_init__(self) -> None:
        _check_field_array(f"{self.type_name}.values", self.values)
        object.__setattr__(self, "values", _frozen(self.values))

    @classmethod
    def coerce(cls, value: Slot) -> Slot:
        if cls is Field and isinstance(value, Depth):
            return Field(value.values)
        return super().coerce(value)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {"values": self.values}, {}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Field:
        return cls(arrays["values"])

    def resized(self, height: int, width: int) -> Field:
        out = _resize_array(self.values, height, width, nearest=False)
        return Field(np.clip(out, 0, 1).astype(np.float32))


@dataclass(frozen=True, eq=False)
class Mask(Field):
    """A Field of exactly 0 and 1."""

    type_name: ClassVar[str] = "Mask"

    def __post_init__(self) -> None:
        values = self.values
        if isinstance(values, np.ndarray) and values.dtype == np.bool_:
            values = values.astype(np.float32)
            object.__setattr__(self, "values", values)
        super().__post_init__()
        if not np.all((self.values == 0.0) | (self.values == 1.0)):
            raise SlotError("Mask.values: a mask holds only 0 and 1 (use a Field for soft values)")

    @classmethod
    def from_bool(cls, mask: NDArray[Any]) -> Mask:
        return cls(np.asarray(mask, dtype=bool).astype(np.float32))

    def resized(self, height: int, width: int) -> Mask:
        return Mask(_resize_array(self.values, height, width, nearest=True))


# ----------------------------------------------------------------------------- Depth
@dataclass(frozen=True, eq=False)
class Depth(Slot):
    """Inverse depth, float32 (H, W) in [0, 1], 1.0 = nearest. Build it with ``from_*``."""

    values: FloatArray
    #: What the constructor read: "inverse", "disparity", "metric", "encoded-8bit", ...
    source_convention: str = "inverse"
    #: (min, max) of the raw values the constructor saw, in the source's own units.
    raw_range: tuple[float, float] = (0.0, 1.0)
    normalisation: Normalisation = "minmax"

    type_name: ClassVar[str] = "Depth"

    def __post_init__(self) -> None:
        _check_field_array("Depth.values", self.values)
        object.__setattr__(self, "values", _frozen(self.values))
        object.__setattr__(self, "raw_range", (float(self.raw_range[0]), float(self.raw_range[1])))

    @property
    def size(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        meta = {
            "source_convention": self.source_convention,
            "raw_range": list(self.raw_range),
            "normalisation": self.normalisation,
        }
        return {"values": self.values}, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Depth:
        lo, hi = meta["raw_range"]
        return cls(arrays["values"], meta["source_convention"], (lo, hi), meta["normalisation"])

    def resized(self, height: int, width: int) -> Depth:
        out = np.clip(_resize_array(self.values, height, width, nearest=False), 0, 1)
        return Depth(
            out.astype(np.float32), self.source_convention, self.raw_range, self.normalisation
        )

    # -- the only converters into the contract ---------------------------------------
    @classmethod
    def from_inverse(
        cls,
        inverse: NDArray[Any],
        *,
        valid: NDArray[Any] | None = None,
        normalisation: Normalisation = "minmax",
        fixed_range: tuple[float, float] | None = None,
        percentiles: tuple[float, float] = (1.0, 99.0),
        convention: str = "inverse",
    ) -> Depth:
        """Read *inverse depth* (larger = nearer), e.g. relative model output or disparity.

        Normalises to [0, 1]: per-image min–max (default), robust percentiles, or a fixed
        raw range (steady across video frames). Invalid pixels (NaN/inf or ``valid`` False)
        become 0.0 = farthest.
        """
        raw = np.asarray(inverse, dtype=np.float64)
        if raw.ndim != 2:
            raise SlotError(f"Depth: expected a 2-D array, got shape {raw.shape}")
        ok = np.isfinite(raw)
        if valid is not None:
            ok &= np.asarray(valid, dtype=bool)
        if not ok.any():
            raise SlotError("Depth: the map has no valid pixel")
        seen = raw[ok]
        raw_lo, raw_hi = float(seen.min()), float(seen.max())
        if normalisation == "minmax":
            lo, hi = raw_lo, raw_hi
        elif normalisation == "percentile":
            lo, hi = (float(v) for v in np.percentile(seen, percentiles))
        elif normalisation == "fixed":
            if fixed_range is None:
                raise SlotError("Depth: normalisation 'fixed' needs fixed_range=(lo, hi)")
            lo, hi = float(fixed_range[0]), float(fixed_range[1])
        else:
            raise SlotError(f"Depth: unknown normalisation {normalisation!r}")
        span = hi - lo
        out = (raw - lo) / span if span > 0 else np.zeros_like(raw)
        values: FloatArray = np.where(ok, np.clip(out, 0.0, 1.0), 0.0).astype(np.float32)
        return cls(values, convention, (raw_lo, raw_hi), normalisation)

    @classmethod
    def from_disparity(cls, disparity: NDArray[Any], **kwargs: Any) -> Depth:
        """Read *disparity* (pixels; larger = nearer; proportional to inverse depth).

        Zero or negative disparity is invalid (infinitely far or unmatched)."""
        raw = np.asarray(disparity, dtype=np.float64)
        valid = np.isfinite(raw) & (raw > 0)
        return cls.from_inverse(raw, valid=valid, convention="disparity", **kwargs)

    @classmethod
    def from_metric(cls, depth: NDArray[Any], **kwargs: Any) -> Depth:
        """Read *metric depth* (distance along the optical axis; larger = farther).

        Converts to inverse depth 1/d first, so the normalised map is linear in disparity
        (what relative models output); zero, negative and non-finite depth is invalid.
        """
        raw = np.asarray(depth, dtype=np.float64)
        valid = np.isfinite(raw) & (raw > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = np.where(valid, 1.0 / np.where(valid, raw, 1.0), np.nan)
        result = cls.from_inverse(inverse, valid=valid, convention="metric", **kwargs)
        lo, hi = float(raw[valid].min()), float(raw[valid].max())
        return cls(result.values, "metric", (lo, hi), result.normalisation)

    @classmethod
    def from_encoded(
        cls,
        encoded: NDArray[Any],
        *,
        convention: Literal["inverse", "disparity", "metric"] = "inverse",
        scale: float = 1.0,
        **kwargs: Any,
    ) -> Depth:
        """Read an 8/16-bit encoded depth image (uint8 or uint16 grayscale).

        ``convention`` says what the pixel values mean: "inverse" (lighter = nearer, the
        usual depth-map PNG), "disparity", or "metric" (value × ``scale`` = metres,
        lighter = farther, e.g. Kinect PNGs with scale 1/1000). Zero counts as invalid for
        "disparity" and "metric".
        """
        arr = np.asarray(encoded)
        if arr.dtype not in (np.uint8, np.uint16):
            raise SlotError(f"Depth.from_encoded: expected uint8 or uint16, got {arr.dtype}")
        if arr.ndim == 3:
            arr = arr[..., 0]
        bits = 8 if arr.dtype == np.uint8 else 16
        values = arr.astype(np.float64) * scale
        if convention == "inverse":
            peak = float(np.iinfo(arr.dtype).max)
            result = cls.from_inverse(
                values / (peak * scale), normalisation="fixed", fixed_range=(0.0, 1.0)
            )
        elif convention == "disparity":
            result = cls.from_disparity(values, **kwargs)
        elif convention == "metric":
            result = cls.from_metric(values, **kwargs)
        else:
            raise SlotError(f"Depth.from_encoded: unknown convention {convention!r}")
        return cls(
            result.values, f"encoded-{bits}bit-{convention}", result.raw_range, result.normalisation
        )

    def to_uint16(self) -> NDArray[np.uint16]:
        """Encode for a 16-bit PNG: lighter = nearer (65535 = 1.0)."""
        return np.round(self.values * 65535.0).astype(np.uint16)


# ----------------------------------------------------------------------------- Segments
@dataclass(frozen=True, eq=False)
class Segments(Slot):
    labels: NDArray[np.int32]
    names: tuple[str, ...]

    type_name: ClassVar[str] = "Segments"

    def __post_init__(self) -> None:
        labels = self.labels
        if not isinstance(labels, np.ndarray) or labels.dtype != np.int32 or labels.ndim != 2:
            raise SlotError("Segments.labels: expected an int32 (H, W) array")
        if labels.size and (labels.min() < -1 or labels.max() >= len(self.names)):
            raise SlotError(
                f"Segments.labels: labels must lie in [-1, {len(self.names) - 1}], "
                f"found [{labels.min()}, {labels.max()}]"
            )
        object.__setattr__(self, "labels", _frozen(labels))
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))

    @property
    def size(self) -> tuple[int, int]:
        return int(self.labels.shape[0]), int(self.labels.shape[1])

    def mask_of(self, names: Sequence[str]) -> Mask:
        wanted = [i for i, n in enumerate(self.names) if n in set(names)]
        return Mask.from_bool(np.isin(self.labels, wanted))

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {"labels": self.labels}, {"names": list(self.names)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Segments:
        return cls(arrays["labels"], tuple(meta["names"]))

    def resized(self, height: int, width: int) -> Segments:
        return Segments(_resize_array(self.labels, height, width, nearest=True), self.names)


# ----------------------------------------------------------------------------- Faces
@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, w, h in image pixels
    score: float
    landmarks: tuple[tuple[float, float], ...] = ()
    depth: float | None = None  # mean Depth (inverse, 1 = near) over the box

    def to_json(self) -> dict[str, Any]:
        return {
            "box": [float(v) for v in self.box],
            "score": float(self.score),
            "landmarks": [[float(x), float(y)] for x, y in self.landmarks],
            "depth": None if self.depth is None else float(self.depth),
        }


@dataclass(frozen=True, eq=False)
class Faces(Slot):
    faces: tuple[Face, ...]
    image_size: tuple[int, int]  # (height, width) of the image the boxes refer to

    type_name: ClassVar[str] = "Faces"

    def __post_init__(self) -> None:
        h, w = self.image_size
        object.__setattr__(self, "image_size", (int(h), int(w)))
        faces = tuple(self.faces)
        if any(f.depth is None for f in faces):
            order = list(faces)
        else:  # the contract: near → far (larger inverse depth first)
            order = sorted(faces, key=lambda f: -(f.depth or 0.0))
        object.__setattr__(self, "faces", tuple(order))

    @property
    def size(self) -> tuple[int, int]:
        return self.image_size

    def to_json(self) -> dict[str, Any]:
        return {"faces": [f.to_json() for f in self.faces]}

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {}, {"image_size": list(self.image_size), **self.to_json()}

    @property
    def nbytes(self) -> int:
        return len(json.dumps(self.to_json()))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Faces:
        faces = tuple(
            Face(
                tuple(f["box"]),
                f["score"],
                tuple((x, y) for x, y in f["landmarks"]),
                f["depth"],
            )
            for f in meta["faces"]
        )
        h, w = meta["image_size"]
        return cls(faces, (int(h), int(w)))

    def resized(self, height: int, width: int) -> Faces:
        sy, sx = height / self.image_size[0], width / self.image_size[1]
        faces = tuple(
            Face(
                (f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy),
                f.score,
                tuple((x * sx, y * sy) for x, y in f.landmarks),
                f.depth,
            )
            for f in self.faces
        )
        return Faces(faces, (height, width))


# ----------------------------------------------------------------------------- Geometry
@dataclass(frozen=True, eq=False)
class Normals(Slot):
    vectors: FloatArray
    frame: str = CAMERA_FRAME

    type_name: ClassVar[str] = "Normals"

    def __post_init__(self) -> None:
        v = self.vectors
        if not isinstance(v, np.ndarray) or v.dtype != np.float32 or v.ndim != 3 or v.shape[2] != 3:
            raise SlotError("Normals.vectors: expected float32 (H, W, 3)")
        if not np.isfinite(v).all():
            raise SlotError("Normals.vectors: contains NaN or infinite values")
        # squared length, one fused pass: cheaper than linalg.norm on big maps
        sq = np.einsum("ijk,ijk->ij", v, v)
        if np.abs(sq - 1.0).max() > 2e-3:
            raise SlotError("Normals.vectors: vectors must have unit length")
        object.__setattr__(self, "vectors", _frozen(v))

    @property
    def size(self) -> tuple[int, int]:
        return int(self.vectors.shape[0]), int(self.vectors.shape[1])

    def to_rgb(self) -> FloatArray:
        """The usual normal-map encoding: rgb = (n + 1) / 2."""
        return ((self.vectors + 1.0) * 0.5).astype(np.float32)

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {"vectors": self.vectors}, {"frame": self.frame}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Normals:
        return cls(arrays["vectors"], meta["frame"])

    def resized(self, height: int, width: int) -> Normals:
        v = _resize_array(self.vectors, height, width, nearest=False).astype(np.float32)
        v /= np.maximum(np.linalg.norm(v, axis=2, keepdims=True), 1e-8)
        return Normals(v, self.frame)


@dataclass(frozen=True, eq=False)
class PointCloud(Slot):
    points: FloatArray
    colors: FloatArray
    frame: str = CAMERA_FRAME
    unit: str = "relative"

    type_name: ClassVar[str] = "PointCloud"

    def __post_init__(self) -> None:
        p, c = self.points, self.colors
        if not isinstance(p, np.ndarray) or p.dtype != np.float32 or p.ndim != 2 or p.shape[1] != 3:
            raise SlotError("PointCloud.points: expected float32 (N, 3)")
        if not np.isfinite(p).all():
            raise SlotError("PointCloud.points: contains NaN or infinite values")
        if c.shape != p.shape or c.dtype != np.float32:
            raise SlotError("PointCloud.colors: expected float32 (N, 3) matching the points")
        object.__setattr__(self, "points", _frozen(p))
        object.__setattr__(self, "colors", _frozen(c))

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {"points": self.points, "colors": self.colors}, {
            "frame": self.frame,
            "unit": self.unit,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> PointCloud:
        return cls(arrays["points"], arrays["colors"], meta["frame"], meta["unit"])


Field.accepts = (Depth,)

#: Every slot type by its name (patch files and the JSON node listing use these names).
SLOT_TYPES: dict[str, type[Slot]] = {
    t.type_name: t for t in (Image, Depth, Field, Mask, Segments, Faces, Normals, PointCloud)
}


def slot_type_name(types: tuple[type[Slot], ...]) -> str:
    """ "Field" or "Field|Depth" for an input that accepts several types."""
    return "|".join(t.type_name for t in types)


__all__ = [
    "CAMERA_FRAME",
    "SLOT_TYPES",
    "Depth",
    "Face",
    "Faces",
    "Field",
    "Image",
    "Mask",
    "Normals",
    "PointCloud",
    "Segments",
    "Slot",
    "slot_type_name",
    "srgb_encode",
]


# ----------------------------------------------------------------------------- Files
@dataclass(frozen=True, eq=False)
class Files(Slot):
    """What a sink node wrote: paths and fingerprints of their bytes.

    A cached ``Files`` is only a hit while every file still holds those bytes; otherwise
    the evaluator runs the node again (so a deleted export is rewritten)."""

    paths: tuple[str, ...]
    fingerprints: tuple[str, ...]

    type_name: ClassVar[str] = "Files"

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        return {}, {"paths": list(self.paths), "fingerprints": list(self.fingerprints)}

    @property
    def nbytes(self) -> int:
        return sum(len(p) for p in self.paths) + 64 * len(self.paths)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Files:
        return cls(tuple(meta["paths"]), tuple(meta["fingerprints"]))


SLOT_TYPES[Files.type_name] = Files
__all__ += ["Files"]
