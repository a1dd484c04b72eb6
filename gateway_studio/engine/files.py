"""Atomic file writes: a temp file beside the target, then ``os.replace``.

A crash or a full disk mid-write leaves the previous file intact and no temp file
behind. A new file gets the usual permissions (0666 minus the umask; ``mkstemp`` alone
would leave every saved patch and exported picture readable by its owner only); a file
written over keeps its own mode, so re-saving a private 0600 patch keeps it private.

``durable=True`` (patch saves, autosaves) also fsyncs the file before the rename and the
folder after it, so the new name survives a power cut. The temp file's name is short
(``.<start of the name>.<random>.tmp``), so targets with names up to the file system's
limit (255 bytes) can be written.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

#: Bytes of the target's name kept in the temp file's name (which adds ~14 more).
_TEMP_NAME_PART = 64


def _umask() -> int:
    # Read once at import: os.umask can only be read by setting it (process-wide).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _temp_prefix(name: str) -> str:
    """``.<name>.``, the name cut to ``_TEMP_NAME_PART`` bytes (at a character boundary)."""
    part = name[:_TEMP_NAME_PART]
    while len(os.fsencode(part)) > _TEMP_NAME_PART:
        part = part[:-1]
    return "." + part + "."


def _mode_for(path: Path) -> int:
    """The existing file's permission bits, or the default for a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return _FILE_MODE


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (where the platform can)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; ``durable`` also fsyncs the file and folder."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_folder(path.parent)
