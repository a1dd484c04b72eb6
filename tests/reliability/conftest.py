"""Helpers for the reliability suite: hostile patches and images, rendered the way a user
would meet them (the installed command, in a process of its own), with time and memory
measured from outside."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "resources" / "images"
EXE = str(Path(sys.executable).parent / "gateway-studio")


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float
    #: Peak resident memory of the process, in bytes.
    peak_rss: int


#: Runs the command as its own child and reports that child's peak RSS. Linux carries the
#: peak of the memory a process replaced at exec into its rusage, so a child forked from
#: pytest (hundreds of MB) would report pytest's size; forked from this small helper, the
#: command's own peak is what ``wait4`` returns.
_SPAWN = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss * 1024))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
    preexec: Callable[[], None] | None = None,
) -> Run:
    """Run ``gateway-studio ARGS`` in a process of its own: its exit code, output, wall
    time and peak RSS. A run that outlives ``timeout`` is killed (with everything it
    started) and fails the test as a hang."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _SPAWN, rss.name, EXE, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
            preexec_fn=preexec,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise AssertionError(f"gateway-studio {' '.join(args)} hung for {timeout} s") from None
        seconds = time.perf_counter() - t0
        peak = int(rss.read() or 0)
    return Run(
        proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), seconds, peak
    )


def write_patch(
    folder: Path,
    nodes: Sequence[dict[str, Any]],
    links: Sequence[tuple[str, str]] = (),
    name: str = "patch.json",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": list(nodes),
        "links": [{"from": a, "to": b} for a, b in links],
    }
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def photo_patch(folder: Path, source: str, export: str = "out.png", **kw: Any) -> Path:
    """source.image (``source``) → output.export (``export``)."""
    return write_patch(
        folder,
        [
            {"id": "photo", "type": "source.image", "params": {"path": source}},
            {"id": "export", "type": "output.export", "params": {"path": export}},
        ],
        [("photo.image", "export.source")],
        **kw,
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bytes(
    width: int,
    height: int,
    *,
    color: int = 2,
    rows: bool = True,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """A PNG of zeros built chunk by chunk (no decoder or encoder involved): ``rows=False``
    writes only one row of pixel data, so a 400 MP header costs 138 bytes and a moment."""
    channels = {0: 1, 2: 3, 6: 4}[color]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    row = b"\0" * (1 + width * channels)
    if rows:
        z = zlib.compressobj(6)
        data = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    else:
        data = zlib.compress(row)
    body = b"".join(_chunk(kind, payload) for kind, payload in extra)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + body
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


@pytest.fixture
def cache_env(tmp_path: Path) -> dict[str, str]:
    """A private cache and HOME for CLI runs (a patch's ``~`` lands in tmp)."""
    home = tmp_path / "home"
    home.mkdir()
    return {"GATEWAY_STUDIO_CACHE": str(tmp_path / "cache"), "HOME": str(home)}


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Path]:
    """A patch folder holding a copy of the sample scene photo."""
    folder = tmp_path / "patches"
    folder.mkdir()
    shutil.copy(IMAGES / "scene.png", folder / "scene.png")
    yield folder


def limit_file_size(limit: int) -> Callable[[], None]:
    """A preexec_fn giving the child a small RLIMIT_FSIZE: a full disk, as writes see it."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply
