"""Slot types of things found in a picture — Segments, Faces, Normals, PointCloud — and
``Files``, what a sink wrote. Their contracts are stated in ``slots``' docstring."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError
from .field_slot import Mask
from .slot_base import FloatArray, Slot, _frozen, _resize_array

#: The camera frame every geometric slot uses.
CAMERA_FRAME = "camera: +X right, +Y up, +Z toward the camera"


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
#: Values (pixels) per band when a big raster slot checks itself.
_CHECK_VALUES = 1 << 18


@dataclass(frozen=True, eq=False)
class Normals(Slot):
    vectors: FloatArray
    frame: str = CAMERA_FRAME

    type_name: ClassVar[str] = "Normals"

    def __post_init__(self) -> None:
        v = self.vectors
        if not isinstance(v, np.ndarray) or v.dtype != np.float32 or v.ndim != 3 or v.shape[2] != 3:
            raise SlotError("Normals.vectors: expected float32 (H, W, 3)")
        # Squared lengths (one fused pass) a band of rows at a time: a 33 MP map's checks
        # would otherwise make ~500 MB of temporaries. A NaN or an infinity fails the
        # length test too; only then is the band checked for which it was.
        step = max(1, _CHECK_VALUES // max(v.shape[1], 1))
        for top in range(0, v.shape[0], step):
            band = v[top : top + step]
            sq = np.einsum("ijk,ijk->ij", band, band)
            if not float(np.abs(sq - 1.0).max(initial=0.0)) <= 2e-3:
                if not np.isfinite(band).all():
                    raise SlotError("Normals.vectors: contains NaN or infinite values")
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
