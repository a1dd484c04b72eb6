"""A photo opened (command line, File › Open, dropped on an empty canvas) becomes a new
patch: ``source.image``, then depth by the first way that exists, then the viewer on it.

Depth, in order: ``depth.estimate`` when the default model's weights are present; else
the depth the photo carries itself (a node that reads embedded depth, when the registry
has one and it finds depth in this photo); else no depth node, and a note in the viewer
saying how to get depth. Nothing is downloaded and nothing pretends to be depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.graph import Link, PatchGraph
from gateway_studio.engine.registry import Registry

DEPTH_MODEL = "depth-anything-v2-small"
#: Node types that read depth a photo carries (portrait-mode HEIC, depth JPEGs), first
#: found wins; each takes the photo's path as its read path.
EMBEDDED_DEPTH_TYPES = ("depth.embedded", "depth.from_photo")
COLUMN = 260.0

NO_DEPTH_NOTE = (
    "No depth yet: no depth model is installed and this photo carries no depth of its own. "
    f"Get a model with `gateway-studio models pull {DEPTH_MODEL}` (then add Depth › Estimate), "
    "or add a depth node that reads a depth map you have."
)


@dataclass
class PhotoPatch:
    graph: PatchGraph
    #: The node the viewer should show.
    view: str
    #: Shown in the viewer (empty when depth was found).
    note: str
    #: One line for the status bar: what the patch holds.
    summary: str


def depth_weights_present(name: str = DEPTH_MODEL) -> bool:
    from gateway_studio.engine import models

    return models.locate(name) is not None


def photo_patch(registry: Registry, photo: Path, *, weights: bool | None = None) -> PhotoPatch:
    """The patch for ``photo`` (``weights``: whether depth weights are present; asked of
    the model store when None)."""
    photo = photo.resolve()
    graph = PatchGraph(registry, base_dir=photo.parent)
    graph.add_node("source.image", {"path": str(photo)}, node_id="photo", position=(0.0, 0.0))
    if weights is None:
        weights = depth_weights_present()
    if weights and "depth.estimate" in registry:
        graph.add_node("depth.estimate", node_id="depth", position=(COLUMN, 0.0))
        graph.connect(Link("photo", "image", "depth", "image"))
        return PhotoPatch(graph, "depth", "", f"photo → depth.estimate ({DEPTH_MODEL})")
    embedded = _embedded_depth(graph, registry, photo)
    if embedded is not None:
        return PhotoPatch(graph, embedded, "", "photo → the depth stored in the photo")
    return PhotoPatch(graph, "photo", NO_DEPTH_NOTE, "photo (no depth source available)")


def _embedded_depth(graph: PatchGraph, registry: Registry, photo: Path) -> str | None:
    """Add the first embedded-depth node that finds depth in ``photo``; None otherwise.
    The node is tried on the photo first, so a photo without depth gets the note rather
    than a red node."""
    from gateway_studio.engine.evaluator import Evaluator

    for type_id in EMBEDDED_DEPTH_TYPES:
        if type_id not in registry:
            continue
        spec = registry.get(type_id)
        param = spec.read_path_param
        if param is None:
            continue
        trial = graph.snapshot()
        try:
            trial.add_node(type_id, {param: str(photo)}, node_id="depth", position=(COLUMN, 0.0))
            if not Evaluator().evaluate(trial, targets=["depth"]).ok:
                continue
        except GatewayError:
            continue
        graph.add_node(type_id, {param: str(photo)}, node_id="depth", position=(COLUMN, 0.0))
        return "depth"
    return None
