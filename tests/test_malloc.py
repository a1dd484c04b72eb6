"""The entry point tunes glibc's allocator (big freed buffers are reused, not re-mmapped)."""

from __future__ import annotations

import sys

import pytest

from gateway_studio.malloc import keep_freed_buffers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_accepts_the_thresholds() -> None:
    assert keep_freed_buffers() is True
