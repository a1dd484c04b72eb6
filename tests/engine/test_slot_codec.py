"""The cache entry format (engine/slot_codec.py): exact round trips, streamed both ways,
and nothing but plain numbers read back."""

from __future__ import annotations

import hashlib
import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Depth, Field, Image
from gateway_studio.engine.cache import DiskStore
from gateway_studio.engine.slot_codec import DIGEST, MAGIC, entry_bytes, key_line, read_entry


def test_slots_come_back_exactly_at_their_own_precision() -> None:
    rng = np.random.default_rng(0)
    photo = Image((rng.random((20, 30, 3)) * 255).astype(np.uint8))
    deep = Image((rng.random((20, 30, 3)) * 65535).astype(np.uint16))
    values = rng.random((20, 30)).astype(np.float32)
    values[3, 4] = np.nan
    depth = Depth.from_inverse(values)
    for slot in (photo, deep, depth, Field(rng.random((5, 7)).astype(np.float32))):
        back = read_entry(entry_bytes(slot))
        assert type(back) is type(slot)
        mine, theirs = slot.to_arrays()[0], back.to_arrays()[0]
        assert mine.keys() == theirs.keys()
        for name in mine:
            assert theirs[name].dtype == mine[name].dtype, name
            np.testing.assert_array_equal(theirs[name], mine[name])
    assert read_entry(entry_bytes(photo)).data.dtype == np.uint8  # an 8-bit photo stays 8-bit


def test_storing_and_reading_a_big_slot_makes_no_copy_of_it(tmp_path: Path) -> None:
    big = Field(np.random.default_rng(1).random((2048, 4096)).astype(np.float32))  # 32 MiB
    store = DiskStore(tmp_path)
    tracemalloc.start()
    try:
        assert store.put("big", big)
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        back = store.get("big")
        _, peak_get = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert back is not None and np.array_equal(back.values, big.values)
    # the old codec held two raw copies and two compressed ones (~4x) while storing
    assert peak_put < 0.5 * big.nbytes, peak_put
    assert peak_get < 1.5 * big.nbytes, peak_get  # the slot itself, and little else


def forged(header: dict[str, object], body: bytes, key: str = "k1") -> bytes:
    """An entry with a valid digest around any header: what a writer to the cache
    folder could make."""
    import zstandard

    raw = json.dumps(header).encode()
    payload = zstandard.ZstdCompressor().compress(struct.pack("<I", len(raw)) + raw + body)
    line = key_line(key)
    check = hashlib.blake2b(line + payload, digest_size=DIGEST).digest()
    return MAGIC + line + check + payload


def test_only_plain_numbers_and_honest_sizes_are_read() -> None:
    base = {"type": "Field", "meta": {}}
    good = forged(
        {**base, "arrays": [{"name": "values", "dtype": "<f4", "shape": [1, 2]}]}, bytes(8)
    )
    assert read_entry(good).values.shape == (1, 2)
    cases = {
        "object": {**base, "arrays": [{"name": "values", "dtype": "|O", "shape": [1]}]},
        "huge": {**base, "arrays": [{"name": "values", "dtype": "<f8", "shape": [1 << 40]}]},
        "negative": {**base, "arrays": [{"name": "values", "dtype": "<f4", "shape": [-1]}]},
        "type": {**base, "type": "os.system", "arrays": []},
    }
    for why, header in cases.items():
        with pytest.raises(ValueError):
            read_entry(forged(header, bytes(8)))
            pytest.fail(why)
    with pytest.raises(ValueError, match="truncated"):
        read_entry(
            forged({**base, "arrays": [{"name": "values", "dtype": "<f4", "shape": [4]}]}, bytes(8))
        )
    with pytest.raises(ValueError, match="after the last array"):
        read_entry(
            forged({**base, "arrays": [{"name": "values", "dtype": "<f4", "shape": [1]}]}, bytes(8))
        )
    with pytest.raises(ValueError, match="another key"):
        read_entry(good, "k2")
    tampered = bytearray(good)
    tampered[-1] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        read_entry(bytes(tampered))
