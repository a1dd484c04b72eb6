"""Gateway Studio: node-based visual patching for depth work.

``from gateway_studio import Patch`` gives the Python API (``gateway_studio/api.py``);
it is imported on first use, so ``import gateway_studio`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .api import NodeError, Output, Patch, PatchNode, Rendered

__all__ = ["NodeError", "Output", "Patch", "PatchNode", "Rendered", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("NodeError", "Output", "Patch", "PatchNode", "Rendered"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'gateway_studio' has no attribute {name!r}")
