"""The slot base class and the array checks every slot type shares (see ``slots``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError

FloatArray = NDArray[np.float32]


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
        total = 0
        for a in arrays.values():  # (a loop: cheaper than a generator for one array)
            total += int(a.nbytes)
        return total

    @property
    def size(self) -> tuple[int, int] | None:
        """(height, width) of raster slots; None for slots without a raster."""
        return None

    def resized(self, height: int, width: int) -> Slot:
        """A copy at another raster size (preview proxies). Non-raster slots scale coords."""
        return self

    def notes(self) -> tuple[str, ...]:
        """What a user must know about this value (holes filled, calibration...): shown in
        the node's status and the render report, cached or not."""
        return ()


def _resize_array(values: NDArray[Any], height: int, width: int, *, nearest: bool) -> Any:
    import cv2

    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return cv2.resize(values, (width, height), interpolation=interp)
