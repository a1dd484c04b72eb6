"""What a patch may read, and what a path in a patch may look like.

A patch is untrusted input. Its file params could name a device (``/dev/zero`` never
ends), a FIFO (``open()`` blocks until a writer comes, which may be never), a socket or a
folder. Sources read *regular files only*: ``check_regular`` refuses anything else from
``os.stat``, before a byte is read, and ``open_regular`` opens with ``O_NONBLOCK`` and
checks again on the open descriptor, so a file swapped for a FIFO in between cannot block
``open()`` either.

``path_problem`` says what is wrong with a path string itself (a NUL byte, characters no
file name can hold, names longer than the file system allows); the patch loader turns it
into a patch error with its location.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import GatewayError

#: Longest file name (one component) and path most file systems accept, in bytes.
NAME_MAX = 255
PATH_MAX = 4096

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class PathRefused(GatewayError):
    """A path names something Gateway Studio will not read (or write)."""


def file_kind(mode: int) -> str:
    """'a regular file', 'a folder', 'a FIFO (named pipe)', … for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def refusal(path: str | os.PathLike[str], mode: int) -> PathRefused:
    return PathRefused(
        f"{path}: is {file_kind(mode)}, not a regular file; Gateway Studio reads only regular files"
    )


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat`` of a regular file (symlinks followed); ``PathRefused`` for anything else.

    A missing file raises ``FileNotFoundError`` as usual."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise refusal(path, st.st_mode)
    return st


def refuse_special(path: str | os.PathLike[str]) -> None:
    """``PathRefused`` if ``path`` is a device, FIFO or socket (never safe to open);
    regular files, folders and missing paths pass (their readers say what is wrong)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise refusal(path, mode)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading without ever blocking in ``open()``."""
    check_regular(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between the stat and the open
            raise refusal(path, st.st_mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def path_problem(value: str) -> str | None:
    """What makes ``value`` unusable as a path (None if nothing does)."""
    if "\x00" in value:
        return f"contains a NUL byte at character {value.index(chr(0))}"
    try:
        encoded = os.fsencode(value)
    except UnicodeEncodeError as exc:
        return f"character {exc.start} cannot be part of a file name ({exc.reason})"
    if len(encoded) > PATH_MAX:
        return f"is {len(encoded)} bytes long; paths are limited to {PATH_MAX}"
    for part in encoded.split(b"/"):
        if len(part) > NAME_MAX:
            name = os.fsdecode(part[:24])
            return f"has a name of {len(part)} bytes ({name}…); names are limited to {NAME_MAX}"
    return None


def resolve(path: str, base_dir: Path | None) -> Path:
    """A param's path: ``~`` expanded, relative paths against ``base_dir`` (the patch
    file's folder), normalised (``..`` removed) but symlinks kept, for messages."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    return Path(os.path.abspath(p))
