"""The node registry: every node type by its id.

Built-in nodes live in the top-level ``nodes`` package, one module per family; every
``NodeSpec`` found in those modules is registered. Third-party node packs plug in through
the ``gateway_studio.nodes`` entry-point group: each entry point names a module (whose
``NodeSpec``s are registered) or a callable returning an iterable of ``NodeSpec``s.
A broken node pack is reported and skipped; it never stops the built-in nodes.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import types
import warnings
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from .errors import GatewayWarning, GraphError
from .node import NodeSpec

ENTRY_POINT_GROUP = "gateway_studio.nodes"


class Registry:
    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        #: (source, message) of node packs that failed to load.
        self.load_errors: list[tuple[str, str]] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec) -> None:
        if spec.type_id in self._specs and self._specs[spec.type_id] is not spec:
            raise GraphError(f"node type '{spec.type_id}' is registered twice")
        self._specs[spec.type_id] = spec

    def register_module(self, module: types.ModuleType) -> int:
        found = [v for v in vars(module).values() if isinstance(v, NodeSpec)]
        for spec in found:
            self.register(spec)
        return len(found)

    def get(self, type_id: str) -> NodeSpec:
        try:
            return self._specs[type_id]
        except KeyError:
            raise GraphError(f"unknown node type '{type_id}'") from None

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.family, s.type_id)))

    def __len__(self) -> int:
        return len(self._specs)

    def families(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for spec in self:
            out.setdefault(spec.family, []).append(spec)
        return out

    # -- discovery ----------------------------------------------------------------------
    def load_builtin(self, package: str = "nodes") -> None:
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}."):
            if info.name.rsplit(".", 1)[-1].startswith("_"):
                continue
            self.register_module(importlib.import_module(info.name))

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        for ep in entry_points(group=group):
            try:
                obj = ep.load()
                if isinstance(obj, types.ModuleType):
                    self.register_module(obj)
                else:
                    for spec in obj():
                        self.register(spec)
            except Exception as exc:  # a broken pack must not take the app down
                message = f"node pack '{ep.name}' ({ep.value}) failed to load: {exc}"
                self.load_errors.append((ep.name, message))
                warnings.warn(message, GatewayWarning, stacklevel=2)


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The built-in nodes plus installed node packs (loaded once, thread-safe)."""
    global _default
    with _default_lock:
        if _default is None:
            registry = Registry()
            registry.load_builtin()
            registry.load_entry_points()
            _default = registry
        return _default
