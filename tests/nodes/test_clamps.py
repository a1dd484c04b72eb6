"""nodes._clamps and nodes._pixels.solid: the fast forms give the slow forms' numbers."""

from __future__ import annotations

import numpy as np
import pytest

from nodes._clamps import at_least, at_most


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 3), (2, 3, 4)])
def test_bounds_are_numpys_maximum_and_minimum(shape: tuple[int, ...]) -> None:
    values = np.random.default_rng(1).normal(0.5, 1.0, shape).astype(np.float32)
    values.flat[:3] = [-np.inf, np.inf, 0.25]
    for bound in (0.0, 0.25, 1e-6, -2.0):
        low, high = at_least(values, bound), at_most(values, bound)
        assert low.dtype == high.dtype == np.float32
        np.testing.assert_array_equal(low, np.maximum(values, np.float32(bound)))
        np.testing.assert_array_equal(high, np.minimum(values, np.float32(bound)))


def test_bounds_write_into_out() -> None:
    values = np.linspace(-1.0, 2.0, 12, dtype=np.float32).reshape(3, 4)
    out = np.empty_like(values)
    assert at_least(values, 0.0, out=out) is out
    assert float(out.min()) == 0.0 and float(out.max()) == 2.0
    assert at_most(values, 1.0, out=values) is values
    assert float(values.max()) == 1.0 and float(values.min()) == -1.0


def test_solid_is_one_colour_in_every_pixel() -> None:
    from nodes._pixels import solid

    rgb = np.array([0.25, 0.5, 1.0], np.float32)
    block = solid(rgb, 3, 5)
    assert block.shape == (3, 5, 3) and block.dtype == np.float32
    np.testing.assert_array_equal(block, np.broadcast_to(rgb, (3, 5, 3)))
