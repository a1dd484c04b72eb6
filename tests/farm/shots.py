"""Batch photos (and depth maps) made in tmp from the synthetic scene, each different."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import RESOURCES

FOG = RESOURCES / "patches" / "fog.json"


def photos(folder: Path, n: int, *, depth: bool = False) -> list[Path]:
    """``n`` photos of the scene (960×640, each shifted differently); with ``depth`` a
    16-bit depth map ``<stem>_depth.png`` beside each, shifted by its own amount."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = np.asarray(Image.open(RESOURCES / "images" / "scene.png"))
    depth_map = np.asarray(Image.open(RESOURCES / "images" / "scene_depth.png")).astype(np.uint16)
    out = []
    for i in range(n):
        path = folder / f"shot{i:02d}.png"
        Image.fromarray(np.roll(scene, 23 * i, axis=1)).save(path)
        if depth:
            rolled = np.roll(depth_map, 150 * i + 40, axis=0)
            Image.fromarray(rolled).save(folder / f"shot{i:02d}_depth.png")
        out.append(path)
    return out


def broken(folder: Path) -> Path:
    """A .png with a PNG signature and nothing readable after it."""
    path = folder / "zz_broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
