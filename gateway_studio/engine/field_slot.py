"""The ``Field`` slot ("how much" of an effect, per pixel) and ``Mask``, a Field of 0/1.

Their contracts are stated in ``slots``' docstring (the conventions module re-exports
them). A Field input also accepts a ``Depth`` (depth is a field: 1 = near); ``slots``,
which defines Depth, sets ``Field.accepts`` when it is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .errors import SlotError
from .slot_base import FloatArray, Slot, _check_field_array, _frozen, _resize_array


@dataclass(frozen=True, eq=False)
class Field(Slot):
    values: FloatArray

    type_name: ClassVar[str] = "Field"

    def __post_init__(self) -> None:
        _check_field_array(f"{self.type_name}.values", self.values)
        object.__setattr__(self, "values", _frozen(self.values))

    @classmethod
    def coerce(cls, value: Slot) -> Slot:
        from .slots import Depth  # (slots imports this module)

        if cls is Field and isinstance(value, Depth):
            # Depth.values met the Field contract when the Depth was made (the same
            # check, ``_check_field_array``): not scanned again on every evaluation.
            field = object.__new__(Field)
            object.__setattr__(field, "values", value.values)
            return field
        return super().coerce(value)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])

    @property
    def nbytes(self) -> int:
        """Its one array's bytes (asked by the cache for every result), unless a subclass
        stores more (then ``Slot.nbytes`` counts what ``to_arrays`` gives)."""
        if type(self).to_arrays is Field.to_arrays:
            return int(self.values.nbytes)
        return super().nbytes

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
