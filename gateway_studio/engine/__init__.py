"""The pure-Python core of Gateway Studio. Never imports Qt (import-linter enforces it)
nor torch at module level (ruff's banned-module-level-imports).

Names are imported from their modules on first use (PEP 562), so a command that needs
the patch format and the evaluator does not pay for the rest (``import
gateway_studio.engine`` itself loads nothing heavy). ``node`` (the decorator) is bound
at once: it shares its name with the ``engine.node`` module."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .node import node

if TYPE_CHECKING:
    from .cache import DiskStore, MemoryCache, SlotCache
    from .errors import (
        Cancelled,
        GatewayError,
        GatewayWarning,
        GraphError,
        ImageReadError,
        ModelMissingError,
        PatchError,
        SlotError,
    )
    from .evaluator import (
        CancelToken,
        Evaluation,
        Evaluator,
        Event,
        NodeFailed,
        NodeFinished,
        NodeProgress,
        NodeResult,
        NodeStarted,
        Progress,
    )
    from .graph import Backdrop, Link, NodeInstance, PatchGraph
    from .keys import default_cache_dir, fingerprint_file
    from .node import Context, InputSpec, NodeSpec, OutputSpec, node
    from .params import (
        Choices,
        Color,
        FilePath,
        Help,
        Label,
        ParamError,
        ParamSpec,
        Picks,
        Range,
        SavePath,
        When,
        parse_color,
    )
    from .patch import load_patch, patch_from_dict, patch_from_json, patch_to_dict, save_patch
    from .registry import Registry, default_registry
    from .slots import (
        CAMERA_FRAME,
        RELATIVE_FAR,
        SLOT_TYPES,
        Depth,
        Distance,
        Face,
        Faces,
        Field,
        Files,
        Image,
        Mask,
        Normals,
        PointCloud,
        Segments,
        Slot,
    )

#: Exported name → the module (in this package) that defines it. Slot types come through
#: ``slots``, the conventions module, which re-exports them and sets ``Field.accepts``.
_LAZY = {
    "DiskStore": "cache",
    "MemoryCache": "cache",
    "SlotCache": "cache",
    "Cancelled": "errors",
    "GatewayError": "errors",
    "GatewayWarning": "errors",
    "GraphError": "errors",
    "ImageReadError": "errors",
    "ModelMissingError": "errors",
    "PatchError": "errors",
    "SlotError": "errors",
    "CancelToken": "evaluator",
    "Evaluation": "evaluator",
    "Evaluator": "evaluator",
    "Event": "evaluator",
    "NodeFailed": "evaluator",
    "NodeFinished": "evaluator",
    "NodeProgress": "evaluator",
    "NodeResult": "evaluator",
    "NodeStarted": "evaluator",
    "Progress": "evaluator",
    "Backdrop": "graph",
    "Link": "graph",
    "NodeInstance": "graph",
    "PatchGraph": "graph",
    "default_cache_dir": "keys",
    "fingerprint_file": "keys",
    "Context": "node",
    "InputSpec": "node",
    "NodeSpec": "node",
    "OutputSpec": "node",
    "node": "node",
    "Choices": "params",
    "Color": "params",
    "FilePath": "params",
    "Help": "params",
    "Label": "params",
    "ParamError": "params",
    "ParamSpec": "params",
    "Picks": "params",
    "Range": "params",
    "SavePath": "params",
    "When": "params",
    "parse_color": "params",
    "load_patch": "patch",
    "patch_from_dict": "patch",
    "patch_from_json": "patch",
    "patch_to_dict": "patch",
    "save_patch": "patch",
    "Registry": "registry",
    "default_registry": "registry",
    "CAMERA_FRAME": "slots",
    "RELATIVE_FAR": "slots",
    "SLOT_TYPES": "slots",
    "Depth": "slots",
    "Distance": "slots",
    "Face": "slots",
    "Faces": "slots",
    "Field": "slots",
    "Files": "slots",
    "Image": "slots",
    "Mask": "slots",
    "Normals": "slots",
    "PointCloud": "slots",
    "Segments": "slots",
    "Slot": "slots",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # (a submodule: the import system imports it after this)
        raise AttributeError(f"module 'gateway_studio.engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CAMERA_FRAME",
    "RELATIVE_FAR",
    "SLOT_TYPES",
    "Backdrop",
    "CancelToken",
    "Cancelled",
    "Choices",
    "Color",
    "Context",
    "Depth",
    "DiskStore",
    "Distance",
    "Evaluation",
    "Evaluator",
    "Event",
    "Face",
    "Faces",
    "Field",
    "FilePath",
    "Files",
    "GatewayError",
    "GatewayWarning",
    "GraphError",
    "Help",
    "Image",
    "ImageReadError",
    "InputSpec",
    "Label",
    "Link",
    "Mask",
    "MemoryCache",
    "ModelMissingError",
    "NodeFailed",
    "NodeFinished",
    "NodeInstance",
    "NodeProgress",
    "NodeResult",
    "NodeSpec",
    "NodeStarted",
    "Normals",
    "OutputSpec",
    "ParamError",
    "ParamSpec",
    "PatchError",
    "PatchGraph",
    "Picks",
    "PointCloud",
    "Progress",
    "Range",
    "Registry",
    "SavePath",
    "Segments",
    "Slot",
    "SlotCache",
    "SlotError",
    "When",
    "default_cache_dir",
    "default_registry",
    "fingerprint_file",
    "load_patch",
    "node",
    "parse_color",
    "patch_from_dict",
    "patch_from_json",
    "patch_to_dict",
    "save_patch",
]
