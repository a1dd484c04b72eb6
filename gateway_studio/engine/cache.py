"""The bundle cache: a byte-bounded memory LRU in front of a content-addressed disk store.

Disk entries are ``<root>/<key[:2]>/<key>.slot`` files in ``slot_codec``'s format (the
entry's own key, a BLAKE2 digest of it and the payload, then the arrays at their own
precision and JSON metadata in one zstd frame, streamed both ways). A missing, truncated
or corrupt entry, or one whose recorded key is not the key asked for (a file copied or
swapped onto another entry's name), reads as a miss (and is deleted), so the node is
recomputed: a wrong result is never served, and a failing disk never fails an evaluation.

The store is bounded by total bytes (``GATEWAY_STUDIO_CACHE_MAX_GB``): ``prune`` deletes
least recently used entries (a hit refreshes an entry's mtime) until it fits. It runs
when a quarter of the limit has been written since the last prune, at the end of every
command-line render, and on a timer in the app, so the limit holds across processes.
Temp files that a killed writer left behind are swept up by the same pass.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .limits import cache_keeps_everything, cache_max_bytes
from .slot_codec import read_entry, write_entry
from .slots import Slot

#: A temp file older than this was left by a writer that died (kill -9, power cut).
STALE_TEMP_SECONDS = 3600.0


#: Entries up to this size cost about the same to store and read whatever their size:
#: their time measures the store's fixed cost per entry, not its throughput.
SMALL_ENTRY = 1 << 20
#: A fresh store's guess of that fixed cost (a file written and renamed, then opened,
#: checked and decoded): ~0.35 ms + ~0.2 ms on these 2 cores; then measured.
ENTRY_SECONDS = 5e-4


def worth_persisting(
    *,
    seconds: float,
    nbytes: int,
    expensive: bool,
    write_rate: float,
    read_rate: float,
    entry_seconds: float = ENTRY_SECONDS,
    written: bool = False,
) -> bool:
    """The disk cache's one policy: does a computed slot earn its place on disk?

    Model outputs always do (``expensive``: inference is what the bundle exists for), and
    so do the ``Files`` of the nodes that write (the evaluator calls those expensive too:
    a warm render stops at them). A result that only writers read (``written``: the
    picture an export saves) is saved already, in their files, and is not stored twice
    (a float copy of an 8K picture is 400 MB; the PNG it became, 40). Anything else
    only if computing it took longer than storing it and reading it back would take:
    the store's fixed cost per entry plus the slot's bytes at its measured rates (bytes
    per second, encode and compression included). A cheap node — a full-frame remap, or
    a tiny field — lives in memory only."""
    if expensive:
        return True
    if written:
        return False
    return seconds > entry_seconds + nbytes / write_rate + nbytes / read_rate


def _read_file(path: str, key: str) -> Slot:
    """The entry at ``path`` read through a memory map (its compressed bytes are never
    copied into the process); OSError or ValueError if it cannot be."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError("empty slot file")
        with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped:
            return read_entry(mapped, key)


#: Entries the memory cache holds at most, whatever their bytes. Tiny slots (a 4x4
#: field, a face list) would otherwise pile up without bound under the byte limit:
#: every knob step makes new entries for the nodes below it, and each entry is a few
#: objects Python's garbage collector walks on every full collection (measured on a
#: 200-node chain of 4x4 fields: 180,000 entries after 1,800 knob steps, and the knob
#: step's mean time 1.6x that with the collector off). 8192 is ~30 versions of a
#: 250-output patch.
MEMORY_ENTRIES = 8192


#: Bytes of preview results (made from proxies while a knob is dragged) and of the
#: proxies themselves that memory keeps, apart from full-resolution results. A drag makes
#: a new result per step; kept with the rest they would grow the 2 GB cache step by step,
#: each on fresh pages (page faults cost ~20 us each on the development VM: ~15 ms of a
#: 20 ms step for a 5 MB result), and push full-resolution results out. In a small pool
#: of their own, the oldest step's memory is freed as a new one comes and reused at once.
TRANSIENT_BYTES = 128 << 20


class _Lru:
    """Slots by key, least recently used first, bounded by bytes and entries."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self.items: OrderedDict[str, tuple[Slot, int]] = OrderedDict()
        self.bytes = 0

    def put(self, key: str, slot: Slot, size: int) -> None:
        items = self.items
        if size > self.max_bytes:
            self.pop(key)
            return
        old = items.get(key)
        items[key] = (slot, size)  # (replaced where it is: a lock-free get never misses it)
        if old is not None:
            self.bytes -= old[1]
            items.move_to_end(key)
        self.bytes += size
        while self.bytes > self.max_bytes or len(items) > self.max_entries:
            _, (_, freed) = items.popitem(last=False)
            self.bytes -= freed

    def pop(self, key: str) -> None:
        if key in self.items:
            self.bytes -= self.items.pop(key)[1]

    def clear(self) -> None:
        self.items.clear()
        self.bytes = 0


class MemoryCache:
    """LRU of slots bounded by their total bytes and by their number; ``transient`` ones
    (previews) in a pool of their own, ``transient_bytes`` at most."""

    def __init__(
        self,
        max_bytes: int = 2 << 30,
        max_entries: int = MEMORY_ENTRIES,
        transient_bytes: int = TRANSIENT_BYTES,
    ) -> None:
        self.max_bytes = max_bytes
        self._kept = _Lru(max_bytes, max_entries)
        self._transient = _Lru(min(transient_bytes, max_bytes), max_entries)
        self._lock = threading.Lock()

    def get(self, key: str) -> Slot | None:
        """The slot, or None. Every node of every run asks, so without the lock: each
        dict call is atomic under the GIL (``put`` adds an entry to its pool before
        taking it out of the other, and replaces one in place), and an entry another
        thread evicts between two of them was found all the same (then it is not made
        the most recent again)."""
        items = self._kept.items
        item = items.get(key)
        if item is None:  # (two lookups written out: a loop over the pools costs a tuple)
            items = self._transient.items
            item = items.get(key)
            if item is None:
                return None
        try:  # noqa: SIM105 (contextlib.suppress: a third of the call's time)
            items.move_to_end(key)
        except KeyError:
            pass
        return item[0]

    def put(self, key: str, slot: Slot, *, transient: bool = False) -> None:
        size = slot.nbytes
        pool, other = (self._transient, self._kept) if transient else (self._kept, self._transient)
        with self._lock:  # (into its pool before out of the other: ``get`` has no lock)
            pool.put(key, slot, size)
            if key in other.items:  # (rarely: a preview's result kept, or the reverse)
                other.pop(key)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._transient.clear()

    @property
    def nbytes(self) -> int:
        return self._kept.bytes + self._transient.bytes

    def __len__(self) -> int:
        return len(self._kept.items) + len(self._transient.items)


class DiskStore:
    """Content-addressed slot files under ``root``, bounded by ``max_bytes``
    (``GATEWAY_STUDIO_CACHE_MAX_GB`` by default; ``SettingError`` if that is invalid)."""

    def __init__(self, root: Path, *, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        self._folder = f"{self.root}{os.sep}"  # (entry paths are made for every lookup)
        self.max_bytes = max_bytes if max_bytes is not None else cache_max_bytes()
        self._written = 0
        self._lock = threading.Lock()
        #: Measured throughput (slot bytes per second) of a put and of a get: a running
        #: mean, starting from what this 2-core machine does with zstd level 1.
        self.write_rate = 250e6
        self.read_rate = 500e6
        #: Measured fixed cost of an entry (seconds): a small put plus a small get.
        self.put_seconds = ENTRY_SECONDS * 0.6
        self.get_seconds = ENTRY_SECONDS * 0.4
        #: GATEWAY_STUDIO_CACHE_KEEP=all: persist every result, whatever it costs.
        self.keep_all = cache_keeps_everything()

    @property
    def entry_seconds(self) -> float:
        return self.put_seconds + self.get_seconds

    def _measured(self, attr: str, nbytes: int, seconds: float) -> None:
        """Fold one put's or get's time into the store's rate (big entries) or its
        fixed cost per entry (small ones)."""
        if seconds <= 0:
            return
        if nbytes >= SMALL_ENTRY:
            setattr(self, attr, 0.5 * getattr(self, attr) + 0.5 * nbytes / seconds)
        else:
            fixed = "put_seconds" if attr == "write_rate" else "get_seconds"
            setattr(self, fixed, 0.5 * getattr(self, fixed) + 0.5 * seconds)

    def path(self, key: str) -> Path:
        return Path(self._path(key))

    def _path(self, key: str) -> str:
        return f"{self._folder}{key[:2]}{os.sep}{key}.slot"

    def get(self, key: str) -> Slot | None:
        path = self._path(key)
        if not os.access(path, os.R_OK):  # a miss: one system call, no exception raised
            return None
        t0 = time.perf_counter()
        try:
            slot = _read_file(path, key)
            self._measured("read_rate", slot.nbytes, time.perf_counter() - t0)
        except Exception:  # corrupt, truncated or another key's: forget it, recompute
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return slot

    def put(self, key: str, slot: Slot) -> bool:
        """Write an entry; False (never an exception) if the slot or the disk refuses."""
        path = self.path(key)
        t0 = time.perf_counter()
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:  # streamed: no copy of the slot in memory
                size = write_entry(f, slot, key)
            if size > self.max_bytes:  # could never stay: do not keep it at all
                raise ValueError("larger than the whole cache")
            os.replace(tmp, path)
            self._measured("write_rate", slot.nbytes, time.perf_counter() - t0)
        except (TypeError, ValueError, OSError):  # metadata that is not JSON, a full disk…
            if tmp is not None:  # a full disk must not fill up further with our leftovers
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False
        with self._lock:
            self._written += size
            due = self._written * 4 >= self.max_bytes
        if due:
            self.prune()
        return True

    def _scan(self) -> list[tuple[float, int, str]]:
        """(mtime, size, path) of every entry; deletes temp files of dead writers."""
        entries: list[tuple[float, int, str]] = []
        stale = time.time() - STALE_TEMP_SECONDS
        folders: list[str] = []
        with contextlib.suppress(OSError), os.scandir(self.root) as top:
            folders = [d.path for d in top if d.is_dir(follow_symlinks=False)]
        for folder in folders:
            with contextlib.suppress(OSError), os.scandir(folder) as files:
                for f in files:
                    with contextlib.suppress(OSError):
                        st = f.stat(follow_symlinks=False)
                        if f.name.endswith(".slot"):
                            entries.append((st.st_mtime, st.st_size, f.path))
                        elif f.name.endswith(".tmp") and st.st_mtime < stale:
                            os.unlink(f.path)
        return entries

    def size(self) -> int:
        """Total bytes of the entries on disk now."""
        return sum(size for _, size, _ in self._scan())

    def prune(self) -> int:
        """Delete least recently used entries until the store fits; returns bytes freed."""
        with self._lock:
            self._written = 0
        entries = self._scan()
        excess = sum(size for _, size, _ in entries) - self.max_bytes
        freed = 0
        for _, size, file in sorted(entries):
            if freed >= excess:
                break
            with contextlib.suppress(OSError):
                os.unlink(file)
                freed += size
        return freed


class SlotCache:
    """What the evaluator talks to: memory first, then disk (if any)."""

    def __init__(self, disk_root: Path | None = None, *, memory_bytes: int = 2 << 30) -> None:
        self.memory = MemoryCache(memory_bytes)
        self.disk = DiskStore(disk_root) if disk_root is not None else None

    def has(self, key: str) -> bool:
        """Whether ``key`` has an entry, without reading it (a disk entry may still turn
        out corrupt when read: then it is a miss, as always)."""
        if self.memory.get(key) is not None:
            return True
        return self.disk is not None and self.disk.path(key).is_file()

    def get(self, key: str) -> tuple[Slot | None, str]:
        """(slot, where) with where "memory", "disk" or "miss"."""
        found, source = self.get_all({key: key})
        return (found[key], source) if found else (None, "miss")

    def get_all(self, keys: Mapping[str, str]) -> tuple[dict[str, Slot], str]:
        """The slots of ``keys`` (name → key) found, in order up to the first miss, and
        where from: "disk" if any was read from there, else "memory"."""
        found: dict[str, Slot] = {}
        source = "memory"
        memory = self.memory
        for name, key in keys.items():
            slot = memory.get(key)
            if slot is None:
                slot = self.load(key)
                if slot is None:
                    break
                source = "disk"
            found[name] = slot
        return found, source

    def load(self, key: str) -> Slot | None:
        """``key``'s disk entry (kept in memory from now on), or None."""
        if self.disk is None:
            return None
        slot = self.disk.get(key)
        if slot is not None:
            self.memory.put(key, slot)
        return slot

    def put(
        self,
        key: str,
        slot: Slot,
        *,
        persist: bool = True,
        seconds: float | None = None,
        expensive: bool = False,
        written: bool = False,
    ) -> None:
        """Keep ``slot`` in memory (not ``persist``: a preview's, in the transient pool),
        and on disk if ``persist`` and — when the compute ``seconds`` are given —
        ``worth_persisting`` says it pays."""
        self.memory.put(key, slot, transient=not persist)
        if not persist or self.disk is None:
            return
        if (
            seconds is not None
            and not self.disk.keep_all
            and not worth_persisting(
                seconds=seconds,
                nbytes=slot.nbytes,
                expensive=expensive,
                write_rate=self.disk.write_rate,
                read_rate=self.disk.read_rate,
                entry_seconds=self.disk.entry_seconds,
                written=written,
            )
        ):
            return
        self.disk.put(key, slot)

    def prune(self) -> int:
        """Bring the disk store within its limit (end of a run; the app's timer)."""
        return self.disk.prune() if self.disk is not None else 0

    def info(self) -> dict[str, Any]:
        return {
            "memory_entries": len(self.memory),
            "memory_bytes": self.memory.nbytes,
            "disk": str(self.disk.root) if self.disk else None,
        }
