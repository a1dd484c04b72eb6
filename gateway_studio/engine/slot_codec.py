"""A slot as the bytes of a cache entry, streamed both ways.

An entry is a magic line, the key it belongs to on a line, a BLAKE2 digest of the key
line and the payload, then the payload: one zstd frame holding a length-prefixed JSON
header (slot type, metadata, each array's name, dtype and shape) followed by each
array's raw C-order bytes, at its own precision.

Both directions stream: an array goes through the compressor in chunks, straight into
the file, and comes back through the decompressor straight into its own buffer, so a
slot costs no copies beyond itself either way (an 8K float32 picture used to take two
uncompressed copies and two compressed ones while it was stored). Nothing in an entry
is code: arrays are plain numbers (bool, int, uint and float dtypes only), the header
is JSON, and the digest is checked before anything is decompressed.
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import struct
from typing import IO, Any

import numpy as np

from .limits import image_budget_bytes
from .slots import SLOT_TYPES, Slot

MAGIC = b"GWSLOT4\n"
DIGEST = 32
MAX_KEY = 256
ZSTD_LEVEL = 1
#: Bytes handed to the compressor at a time (bounds its buffers, whatever the slot size).
CHUNK = 8 << 20
_MAX_HEADER = 1 << 20
_KINDS = "biuf"  # bool, int, uint, float: plain numbers only


def _zstd() -> Any:
    import zstandard

    return zstandard


def key_line(key: str) -> bytes:
    line = key.encode("ascii") + b"\n"
    if len(line) > MAX_KEY or b"\n" in line[:-1]:
        raise ValueError(f"not a cache key: {key!r}")
    return line


class _Hashed:
    """A write-only file that hashes what passes through it to ``out``."""

    def __init__(self, out: IO[bytes], digest: Any) -> None:
        self.out, self.digest = out, digest

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


def _raw(array: np.ndarray[Any, Any]) -> memoryview:
    return array.reshape(-1).view(np.uint8).data


def write_entry(out: IO[bytes], slot: Slot, key: str = "") -> int:
    """Write ``slot``'s entry for ``key`` at ``out``'s position (a seekable file opened
    for writing); the bytes written. ValueError for a slot that cannot be stored."""
    line = key_line(key)
    arrays, meta = slot.to_arrays()
    flat = {name: np.ascontiguousarray(a) for name, a in arrays.items()}
    for name, a in flat.items():
        if a.dtype.kind not in _KINDS or a.dtype.hasobject:
            raise ValueError(f"array {name!r} of dtype {a.dtype} cannot be stored")
    specs = [{"name": n, "dtype": a.dtype.str, "shape": list(a.shape)} for n, a in flat.items()]
    header = json.dumps({"type": slot.type_name, "meta": meta, "arrays": specs}).encode()
    start = out.tell()
    out.write(MAGIC + line + bytes(DIGEST))
    digest = hashlib.blake2b(line, digest_size=DIGEST)
    compressor = _zstd().ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    with compressor.stream_writer(_Hashed(out, digest), closefd=False) as z:
        z.write(struct.pack("<I", len(header)) + header)
        for a in flat.values():
            raw = _raw(a)
            for at in range(0, len(raw), CHUNK):
                z.write(raw[at : at + CHUNK])
    end = out.tell()
    out.seek(start + len(MAGIC) + len(line))
    out.write(digest.digest())
    out.seek(end)
    return end - start


def entry_bytes(slot: Slot, key: str = "") -> bytes:
    """The whole entry for ``slot`` under ``key`` in memory (``write_entry`` to a buffer)."""
    buf = io.BytesIO()
    write_entry(buf, slot, key)
    return buf.getvalue()


def _exactly(reader: Any, n: int) -> bytes:
    data = reader.read(n)
    if len(data) != n:
        raise ValueError("truncated payload")
    return bytes(data)


def _fill(reader: Any, array: np.ndarray[Any, Any]) -> None:
    raw = _raw(array)
    at = 0
    while at < len(raw):
        got = reader.readinto(raw[at : at + CHUNK])
        if not got:
            raise ValueError("truncated payload")
        at += got


def _arrays_of(header: Any) -> list[tuple[str, np.dtype[Any], tuple[int, ...]]]:
    """The header's array list, checked: plain dtypes, sane shapes, a bounded total."""
    if not isinstance(header, dict) or header.get("type") not in SLOT_TYPES:
        raise ValueError("not a slot header")
    found, total = [], 0
    for spec in header.get("arrays", []):
        dtype = np.dtype(str(spec["dtype"]))
        shape = tuple(int(s) for s in spec["shape"])
        if dtype.kind not in _KINDS or dtype.hasobject or any(s < 0 for s in shape):
            raise ValueError(f"array {spec.get('name')!r}: not plain numbers")
        total += int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        found.append((str(spec["name"]), dtype, shape))
    if total > max(image_budget_bytes(), 1 << 30):
        raise ValueError("the entry's arrays exceed the memory budget")
    return found


def read_entry(data: bytes | memoryview | mmap.mmap, key: str | None = None) -> Slot:
    """The slot in an entry's bytes; ValueError for anything that is not an intact entry
    (of ``key``, if given). ``data`` may be a memory map: it is not copied."""
    view = memoryview(data)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ValueError("not a slot file")
    end = bytes(view[len(MAGIC) : len(MAGIC) + MAX_KEY]).find(b"\n") + len(MAGIC)
    if end < len(MAGIC) or len(view) < end + 1 + DIGEST:
        raise ValueError("truncated slot file")
    line = bytes(view[len(MAGIC) : end + 1])
    if key is not None and line[:-1] != key.encode("ascii", "replace"):
        raise ValueError("the entry belongs to another key")
    stored = bytes(view[end + 1 : end + 1 + DIGEST])
    payload = view[end + 1 + DIGEST :]
    digest = hashlib.blake2b(line, digest_size=DIGEST)
    digest.update(payload)
    if digest.digest() != stored:
        raise ValueError("checksum mismatch")
    try:
        with _zstd().ZstdDecompressor().stream_reader(payload) as reader:
            (size,) = struct.unpack("<I", _exactly(reader, 4))
            if size > _MAX_HEADER:
                raise ValueError("header too large")
            header = json.loads(_exactly(reader, size))
            arrays = {}
            for name, dtype, shape in _arrays_of(header):
                arrays[name] = np.empty(shape, dtype)
                _fill(reader, arrays[name])
            if reader.read(1):
                raise ValueError("data after the last array")
    except _zstd().ZstdError as exc:  # not a frame we wrote
        raise ValueError(f"not a compressed slot ({exc})") from None
    finally:
        payload.release()
        view.release()
    return SLOT_TYPES[header["type"]].from_arrays(arrays, header["meta"])
