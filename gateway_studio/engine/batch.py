"""Naming the outputs of a batch render, shared by the command line and the app."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def output_names(images: Sequence[str | Path]) -> dict[str, str]:
    """Output name (relative, without suffix) per batch image, never the same for two.

    The stem, under the image's folder relative to the folders' common parent (a
    recursive glob keeps its tree: a/x.png and b/x.png do not overwrite each other); two
    files of one stem in one folder (x.png, x.jpg) add their extension (x_png, x_jpg).
    Keys are the images as given (``str``)."""
    folders = [Path(os.path.abspath(image)).parent for image in images]
    common = Path(os.path.commonpath(folders)) if folders else Path()
    bases = [
        (folder.relative_to(common), Path(image).stem)
        for folder, image in zip(folders, images, strict=True)
    ]
    names: dict[str, str] = {}
    for image, (rel, stem) in zip(images, bases, strict=True):
        if bases.count((rel, stem)) > 1:
            stem = f"{stem}_{Path(image).suffix.lstrip('.').lower()}"
        names[str(image)] = str(rel / stem)
    return names
