"""Gateway Studio: node-based visual patching for depth work.

``from gateway_studio import Patch`` gives the Python API (``gateway_studio/api.py``);
it is imported on first use, so ``import gateway_studio`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

__all__ = ["NodeError", "Output", "Patch", "PatchNode", "Rendered", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("NodeError", "Output", "Patch", "PatchNode", "Rendered"):
        # imported by name: type checkers of the engine (which names ``_version``, so
        # this package) do not walk into the API and the viewer code it draws with
        return getattr(importlib.import_module("gateway_studio.api"), name)
    raise AttributeError(f"module 'gateway_studio' has no attribute {name!r}")
