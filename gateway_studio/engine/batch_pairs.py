"""Paired batch inputs: each batch image's partner files, by a naming rule.

``render PATCH --batch-input photo='shots/*.jpg' --batch-input depth='shots/{stem}_depth.png'``
feeds each photo to ``photo`` and its own depth map to ``depth``. A rule names the partner
from the image: ``{stem}``, ``{name}``, ``{suffix}``, ``{dir}``. A missing partner is an
error naming the image, before anything is rendered; nothing is ever paired by guessing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import GatewayError


class PairingError(GatewayError):
    """A naming rule that cannot pair the batch (bad rule, missing partner)."""


_FIELD = re.compile(r"\{([^{}]*)\}")
#: What a partner's naming rule may say about the batch image it goes with.
PARTNER_FIELDS = ("stem", "name", "suffix", "dir")


def partner_path(rule: str, image: str | Path) -> Path:
    """The file ``rule`` names for ``image``: ``{stem}`` (name without suffix), ``{name}``,
    ``{suffix}`` (with its dot), ``{dir}`` (the image's folder); relative rules resolve
    against the current folder, like the batch glob."""
    path = Path(os.path.abspath(image))
    values = {"stem": path.stem, "name": path.name, "suffix": path.suffix, "dir": str(path.parent)}

    def field(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise PairingError(
                f"naming rule {rule!r}: unknown field {{{key}}} "
                f"(use {', '.join('{' + f + '}' for f in PARTNER_FIELDS)})"
            )
        return values[key]

    if not _FIELD.search(rule):
        raise PairingError(
            f"naming rule {rule!r} names the same file for every image; say how it follows "
            "the image, e.g. 'shots/{stem}_depth.png'"
        )
    return Path(os.path.abspath(os.path.expanduser(_FIELD.sub(field, rule))))


def pair_inputs(
    images: Sequence[str | Path], partners: Mapping[str, str]
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Each image's partner files (node id → path), by the nodes' naming rules. Images that
    are themselves another image's partner (a glob of *.png catching *_depth.png) are
    dropped from the batch; a missing partner is a ``PairingError`` naming the image."""
    wanted = {
        str(image): {node: partner_path(rule, image) for node, rule in partners.items()}
        for image in images
    }
    taken = {os.path.abspath(p) for files in wanted.values() for p in files.values()}
    kept = [str(image) for image in images if os.path.abspath(image) not in taken]
    paired: dict[str, dict[str, str]] = {}
    for image in kept:
        for node, path in wanted[image].items():
            if not path.is_file():
                raise PairingError(
                    f"image {image}: its partner for '{node}' ({partners[node]}) is missing: {path}"
                )
        paired[image] = {node: str(path) for node, path in wanted[image].items()}
    return kept, paired
