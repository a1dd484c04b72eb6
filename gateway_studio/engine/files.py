"""Atomic file writes: a temp file beside the target, then ``os.replace``.

A crash or a full disk mid-write leaves the previous file intact and no temp file
behind. Written files get the usual permissions (0666 minus the umask); ``mkstemp``
alone would leave every saved patch and exported picture readable by its owner only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    # Read once at import: os.umask can only be read by setting it (process-wide).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def atomic_write(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``durable`` also fsyncs before the rename."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
