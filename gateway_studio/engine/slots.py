"""Slot types and their value contracts — the one place the conventions live.

Every value that travels along a wire is one of the classes below. Each validates its
contract on construction, so a node can trust what it receives and never re-decides a
convention. Slots are immutable: their arrays are made read-only, and nodes build new
slots instead of mutating inputs.

Contracts
---------
``Image``      ``pixels``: float32 (H, W, 3) in [0, 1] (a photo keeps its decoded 8/16-bit
               ``data`` and converts on use); ``colorspace`` says "srgb" or "linear";
               optional ``alpha`` float32 (H, W) in [0, 1]; ``bit_depth`` records the
               source's bits per channel (8 or 16) so an export can keep them.
``Depth``      **inverse depth**, float32 (H, W) in [0, 1], **1.0 = nearest, 0.0 =
               farthest**, same size as the image it came from. Only the ``Depth.from_*``
               constructors turn other conventions (metric depth, disparity, encoded 8/16
               bit images) into it; each names the convention it reads. Beside the values
               it keeps the raw range it saw and the normalisation it applied.
               *Validity*: ``valid`` (bool (H, W), or None = all valid) is False where the
               source had no depth; those pixels are never "far": ``values`` holds the
               shared fill there (``engine.holes``: nearest valid pixel), for nodes that
               need a value everywhere, while point clouds, per-region / per-face means
               and exports skip them. *Calibration*: ``metric_range`` = metres of depth
               1.0 and 0.0 when the source measured metres. ``to_distance`` (the one
               inverse-depth → distance formula), ``inverted`` and ``derived`` are how
               nodes make distances and new maps; nodes never call ``Depth(...)``.
               Encoded as a 16-bit PNG: 0 = no depth, 1 … 65535 = depth 0 … 1.
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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError
from .field_slot import Field, Mask
from .image_slot import Image, srgb_encode
from .normalise import normalise
from .scene_slots import CAMERA_FRAME, Face, Faces, Files, Normals, PointCloud, Segments
from .slot_base import FloatArray, Slot, _check_field_array, _frozen, _resize_array

Normalisation = Literal["minmax", "percentile", "fixed"]


# ----------------------------------------------------------------------------- Others
# ``Image`` and ``srgb_encode`` live in ``image_slot``, ``Field`` and ``Mask`` in
# ``field_slot``, the rest in ``scene_slots`` (imported above); their contracts are stated
# in this module's docstring.


# ----------------------------------------------------------------------------- Depth
#: Relative distance of depth 0 when a map knows no metres: 10 × the nearest (depth 1).
RELATIVE_FAR = 10.0


class Distance(NamedTuple):
    """Distance along the optical axis, per pixel, and what unit it is in."""

    values: FloatArray
    #: "m" when the Depth is calibrated in metres; "relative" (near = 1) otherwise.
    unit: Literal["m", "relative"]
    near: float
    far: float


def inverse_to_distance(values: NDArray[Any], near: float, far: float) -> NDArray[np.float32]:
    """The one formula from normalised inverse depth to distance: 1 / lerp(1/far, 1/near, v).

    Inverse depth is linear in 1/z, so pinning depth 1 to ``near`` and depth 0 to ``far``
    gives every pixel its distance in the units of ``near``/``far``."""
    inv_far = np.float32(1.0 / far)
    span = np.float32(1.0 / near - 1.0 / far)
    return np.asarray(1.0 / (inv_far + span * np.asarray(values, dtype=np.float32)))


@dataclass(frozen=True, eq=False)
class Depth(Slot):
    """Inverse depth, float32 (H, W) in [0, 1], 1.0 = nearest. Build it with ``from_*``.

    Validity: ``valid`` is False where the source had no depth (a sensor hole, a render's
    background, an occlusion); None means every pixel is valid. ``values`` still holds a
    number there — the shared fill of ``engine.holes`` (named in ``fill``) — so nodes that
    need depth everywhere read ``values``; nodes that must not invent depth (point
    clouds, per-region and per-face means, exports) read ``valid`` too.

    Calibration: ``metric_range`` = (near, far) in metres of depth 1.0 and 0.0, when the
    source measured metres (a sensor, an EXR Z pass, phone depth, a metric model);
    ``to_distance`` then returns metres."""

    values: FloatArray
    #: What the constructor read: "inverse", "disparity", "metric", "encoded-8bit", ...
    source_convention: str = "inverse"
    #: (min, max) of the raw values the constructor saw, in the source's own units.
    raw_range: tuple[float, float] = (0.0, 1.0)
    normalisation: Normalisation = "minmax"
    valid: NDArray[np.bool_] | None = None
    metric_range: tuple[float, float] | None = None
    #: How hole values were made: "" (no holes), "nearest" (the shared fill), "guided".
    fill: str = ""

    type_name: ClassVar[str] = "Depth"

    def __post_init__(self) -> None:
        _check_field_array("Depth.values", self.values)
        object.__setattr__(self, "values", _frozen(self.values))
        object.__setattr__(self, "raw_range", (float(self.raw_range[0]), float(self.raw_range[1])))
        valid = self.valid
        if valid is not None:
            if not isinstance(valid, np.ndarray) or valid.dtype != np.bool_:
                raise SlotError("Depth.valid: expected a bool array (True = measured)")
            if valid.shape != self.values.shape:
                raise SlotError(
                    f"Depth.valid: shape {valid.shape} differs from the values {self.values.shape}"
                )
            if not valid.any():
                raise SlotError("Depth: the map has no valid pixel")
            object.__setattr__(self, "valid", None if valid.all() else _frozen(valid))
        if self.valid is None:
            object.__setattr__(self, "fill", "")
        elif not self.fill:
            raise SlotError("Depth.fill: a map with holes must name how they were filled")
        if self.metric_range is not None:
            near, far = (float(v) for v in self.metric_range)
            if not (0.0 < near <= far) or not np.isfinite(near):
                raise SlotError(
                    f"Depth.metric_range: need 0 < near ≤ far metres, got {near:g}, {far:g}"
                )
            object.__setattr__(self, "metric_range", (near, far))

    @property
    def size(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])

    @property
    def hole_fraction(self) -> float:
        """Fraction of pixels without depth (0.0 when every pixel is valid)."""
        return (
            0.0
            if self.valid is None
            else 1.0 - float(np.count_nonzero(self.valid)) / (self.valid.size)
        )

    def notes(self) -> tuple[str, ...]:
        out: list[str] = []
        if self.valid is not None:
            how = "nearest valid pixel" if self.fill == "nearest" else f"{self.fill} fill"
            out.append(
                f"{100 * self.hole_fraction:.1f} % of pixels have no depth "
                f"(effects read them filled: {how})"
            )
        if self.metric_range is not None:
            out.append(f"calibrated: {self.metric_range[0]:.3g} m … {self.metric_range[1]:.3g} m")
        if "+" in self.source_convention:
            out.append(f"made by: {self.source_convention.replace('+', ' → ')}")
        return tuple(out)

    def to_arrays(self) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        meta = {
            "source_convention": self.source_convention,
            "raw_range": list(self.raw_range),
            "normalisation": self.normalisation,
            "metric_range": None if self.metric_range is None else list(self.metric_range),
            "fill": self.fill,
        }
        arrays: dict[str, NDArray[Any]] = {"values": self.values}
        if self.valid is not None:
            arrays["valid"] = self.valid
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], meta: Mapping[str, Any]) -> Depth:
        lo, hi = meta["raw_range"]
        metric = meta.get("metric_range")
        return cls(
            arrays["values"],
            meta["source_convention"],
            (lo, hi),
            meta["normalisation"],
            arrays.get("valid"),
            None if metric is None else (float(metric[0]), float(metric[1])),
            str(meta.get("fill", "")),
        )

    def resized(self, height: int, width: int) -> Depth:
        out = np.clip(_resize_array(self.values, height, width, nearest=False), 0, 1)
        valid = None
        if self.valid is not None:
            valid = _resize_array(self.valid.view(np.uint8), height, width, nearest=True) > 0
            if not valid.any():
                valid = None
        return self.derived(out.astype(np.float32), "", valid=valid)

    # -- derived maps: the only way nodes make a Depth from another ---------------------
    def derived(
        self,
        values: NDArray[Any],
        step: str,
        *,
        valid: NDArray[np.bool_] | Literal["same"] | None = "same",
        fill: str | None = None,
        keep_metres: bool = True,
    ) -> Depth:
        """A Depth computed from this one (same convention, 1 = nearest): ``step`` is
        appended to ``source_convention``; validity, fill and calibration carry over unless
        given."""
        mask = self.valid if isinstance(valid, str) else valid
        return Depth(
            np.asarray(values, dtype=np.float32),
            f"{self.source_convention}+{step}" if step else self.source_convention,
            self.raw_range,
            self.normalisation,
            mask,
            self.metric_range if keep_metres else None,
            (fill if fill is not None else self.fill or NEAREST_FILL) if mask is not None else "",
        )

    def inverted(self) -> Depth:
        """Near and far swapped (for mislabelled sources). The calibration no longer
        holds and is dropped; validity is kept."""
        return self.derived(1.0 - self.values, "inverted", keep_metres=False)

    def to_distance(self, near: float | None = None, far: float | None = None) -> Distance:
        """Distance along the optical axis per pixel (holes: from the filled values).

        With no ``near``/``far``: metres when calibrated, else relative distance with
        depth 1 at 1.0 and depth 0 at ``RELATIVE_FAR``. Given both, they pin depth 1 and
        depth 0 (unit "relative" to whatever the caller means)."""
        if near is None and far is None and self.metric_range is not None:
            near_m, far_m = self.metric_range
            if far_m == near_m:
                return Distance(np.full(self.values.shape, near_m, np.float32), "m", near_m, far_m)
            return Distance(inverse_to_distance(self.values, near_m, far_m), "m", near_m, far_m)
        lo = 1.0 if near is None else float(near)
        hi = RELATIVE_FAR * lo if far is None else float(far)
        if not 0.0 < lo < hi:
            raise SlotError(f"Depth.to_distance: need 0 < near < far, got {lo:g}, {hi:g}")
        return Distance(inverse_to_distance(self.values, lo, hi), "relative", lo, hi)

    def values_or_nan(self) -> FloatArray:
        """The values with NaN where there is no depth (what a .npy export holds)."""
        if self.valid is None:
            return np.array(self.values, dtype=np.float32)
        return np.where(self.valid, self.values, np.float32(np.nan)).astype(np.float32)

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
        raw range ``fixed_range = (near, far)`` in the input's units (near > far; steady
        across video frames). Invalid pixels (NaN/inf or ``valid`` False) are holes."""
        raw = np.asarray(inverse, dtype=np.float32)
        if raw.ndim != 2:
            raise SlotError(f"Depth: expected a 2-D array, got shape {raw.shape}")
        if fixed_range is not None and normalisation == "fixed":
            near, far = (float(v) for v in fixed_range)
            if not near > far:
                raise SlotError(
                    f"Depth: fixed range near {near:g} / far {far:g}: in inverse depth the "
                    "near value must be larger than the far value"
                )
            fixed_range = (far, near)
        values, ok, _, seen = normalise(raw, valid, normalisation, fixed_range, percentiles)
        return cls(values, convention, seen, normalisation, ok, None, NEAREST_FILL)

    @classmethod
    def from_disparity(cls, disparity: NDArray[Any], **kwargs: Any) -> Depth:
        """Read *disparity* (pixels; larger = nearer; proportional to inverse depth).

        Zero or negative disparity is invalid (infinitely far or unmatched)."""
        raw = np.asarray(disparity, dtype=np.float32)
        valid = np.isfinite(raw) & (raw > 0)
        extra = kwargs.pop("valid", None)
        if extra is not None:
            valid &= np.asarray(extra, dtype=bool)
        return cls.from_inverse(raw, valid=valid, convention="disparity", **kwargs)

    @classmethod
    def from_metric(
        cls,
        depth: NDArray[Any],
        *,
        valid: NDArray[Any] | None = None,
        normalisation: Normalisation = "minmax",
        fixed_range: tuple[float, float] | None = None,
        percentiles: tuple[float, float] = (1.0, 99.0),
        convention: str = "metric",
    ) -> Depth:
        """Read *metric depth* in metres (distance along the optical axis; larger = farther).

        Converts to inverse depth 1/d first, so the normalised map is linear in disparity
        (what relative models output); zero, negative and non-finite depth is invalid.
        ``fixed_range = (near, far)`` in metres. The result is calibrated: its
        ``metric_range`` holds the metres of depth 1 and depth 0."""
        raw = np.asarray(depth, dtype=np.float32)
        if raw.ndim != 2:
            raise SlotError(f"Depth: expected a 2-D array, got shape {raw.shape}")
        ok = np.isfinite(raw) & (raw > 0)
        if valid is not None:
            ok &= np.asarray(valid, dtype=bool)
        span = None
        if normalisation == "fixed" and fixed_range is not None:
            near, far = (float(v) for v in fixed_range)
            if not 0.0 < near < far:
                raise SlotError(
                    f"Depth: fixed range for metric depth needs 0 < near < far metres, "
                    f"got near {near:g}, far {far:g}"
                )
            span = (1.0 / far, 1.0 / near)
        if not ok.any():
            raise SlotError("Depth: the map has no valid pixel")
        inverse = np.full(raw.shape, np.nan, dtype=np.float32)
        np.divide(np.float32(1.0), raw, out=inverse, where=ok)
        values, mask, (lo, hi), _ = normalise(inverse, ok, normalisation, span, percentiles)
        del inverse
        metres = (1.0 / hi, 1.0 / lo) if lo > 0 else None
        seen = (float(raw.min(where=ok, initial=np.inf)), float(raw.max(where=ok, initial=0.0)))
        return cls(
            values,
            convention,
            seen,
            normalisation,
            mask,
            metres,
            NEAREST_FILL,
        )

    @classmethod
    def from_affine_invariant(
        cls,
        depth: NDArray[Any],
        *,
        valid: NDArray[Any] | None = None,
        normalisation: Normalisation = "minmax",
        fixed_range: tuple[float, float] | None = None,
        percentiles: tuple[float, float] = (1.0, 99.0),
    ) -> Depth:
        """Read *affine-invariant depth* (larger = farther, unknown shift and scale), e.g.
        Marigold's output.

        Without its shift, 1/d is undefined, so the map is reversed, not inverted: the
        normalised values are linear in depth (not in disparity), 1 = nearest, and carry
        no metres. ``fixed_range = (near, far)`` in the input's units (near < far)."""
        raw = np.asarray(depth, dtype=np.float32)
        if raw.ndim != 2:
            raise SlotError(f"Depth: expected a 2-D array, got shape {raw.shape}")
        span = None
        if normalisation == "fixed" and fixed_range is not None:
            near, far = (float(v) for v in fixed_range)
            if not near < far:
                raise SlotError(
                    f"Depth: fixed range near {near:g} / far {far:g}: in affine-invariant "
                    "depth the near value must be smaller than the far value"
                )
            span = (-near, -far)
        out = cls.from_inverse(
            -raw,
            valid=valid,
            normalisation=normalisation,
            fixed_range=span,
            percentiles=percentiles,
            convention="affine-invariant",
        )
        low, high = out.raw_range  # of the reversed map: say what the input held
        return replace(out, raw_range=(-high, -low))

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

        ``convention`` says what the pixel values mean:

        * "inverse" (lighter = nearer, the usual depth-map PNG). 8 bit: value / 255, every
          pixel valid. 16 bit: Gateway Studio's own export — 0 = no depth, 1 … 65535 =
          depth (value − 1) / 65534. Keeps those stored values unless ``normalisation``
          is given.
        * "disparity" (larger = nearer; 0 = invalid).
        * "metric": value × ``scale`` = metres, lighter = farther, 0 = invalid (e.g.
          Kinect PNGs in millimetres with scale 1/1000).
        """
        arr = np.asarray(encoded)
        if arr.dtype not in (np.uint8, np.uint16):
            raise SlotError(f"Depth.from_encoded: expected uint8 or uint16, got {arr.dtype}")
        if arr.ndim == 3:
            arr = arr[..., 0]
        bits = 8 if arr.dtype == np.uint8 else 16
        if convention == "inverse":
            if bits == 8:
                values, valid = np.divide(arr, np.float32(255.0), dtype=np.float32), None
            else:
                values = (arr.astype(np.float32) - np.float32(1.0)) / np.float32(65534.0)
                valid = arr > 0
            kwargs.setdefault("normalisation", "fixed")
            if kwargs["normalisation"] == "fixed":
                kwargs.setdefault("fixed_range", (1.0, 0.0))
            result = cls.from_inverse(values, valid=valid, **kwargs)
        elif convention == "disparity":
            result = cls.from_disparity(arr.astype(np.float32) * np.float32(scale), **kwargs)
        elif convention == "metric":
            result = cls.from_metric(arr.astype(np.float32) * np.float32(scale), **kwargs)
        else:
            raise SlotError(f"Depth.from_encoded: unknown convention {convention!r}")
        return replace(result, source_convention=f"encoded-{bits}bit-{convention}")

    def to_uint16(self) -> NDArray[np.uint16]:
        """Encode for a 16-bit PNG: 0 = no depth, 1 … 65535 = depth 0 … 1 (lighter =
        nearer); ``from_encoded(..., convention="inverse")`` reads it back."""
        out = (1.0 + np.round(self.values * 65534.0)).astype(np.uint16)
        if self.valid is not None:
            out[~self.valid] = 0
        return out


#: The fill a constructor applies to holes (the shared one).
NEAREST_FILL = "nearest"


Field.accepts = (Depth,)

#: Every slot type by its name (patch files and the JSON node listing use these names).
SLOT_TYPES: dict[str, type[Slot]] = {
    t.type_name: t for t in (Image, Depth, Field, Mask, Segments, Faces, Normals, PointCloud, Files)
}


def slot_type_name(types: tuple[type[Slot], ...]) -> str:
    """ "Field" or "Field|Depth" for an input that accepts several types."""
    return "|".join(t.type_name for t in types)


__all__ = [
    "CAMERA_FRAME",
    "RELATIVE_FAR",
    "SLOT_TYPES",
    "Depth",
    "Distance",
    "Face",
    "Faces",
    "Field",
    "Files",
    "Image",
    "Mask",
    "Normals",
    "PointCloud",
    "Segments",
    "Slot",
    "inverse_to_distance",
    "slot_type_name",
    "srgb_encode",
]
