"""The node registry: every node type by its id.

Built-in nodes live in the top-level ``nodes`` package, one module per family; every
``NodeSpec`` found in those modules is registered. Third-party node packs plug in through
the ``gateway_studio.nodes`` entry-point group: each entry point names a module (whose
``NodeSpec``s are registered) or a callable returning an iterable of ``NodeSpec``s.
A broken node pack is reported and skipped; it never stops the built-in nodes.

The default registry loads lazily: asking for a type imports the modules of its family
first (``nodes.FAMILIES``: the type id's prefix → the modules that define that family),
so a command-line render of a small patch imports four node modules, not twenty.
Anything else — a type of no listed family, a type its family's modules did not define,
listing or counting the types — loads every built-in module and every node pack, so
the answer is always the one a full load would give.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import types
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .errors import GatewayWarning, GraphError
from .node import NodeSpec

ENTRY_POINT_GROUP = "gateway_studio.nodes"


def entry_points(group: str) -> Any:
    """``importlib.metadata.entry_points`` (imported when first needed: it reads every
    installed distribution's metadata)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


class Registry:
    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        #: (source, message) of node packs that failed to load.
        self.load_errors: list[tuple[str, str]] = []
        #: Modules not imported yet (``lazy_builtin``): all of them, and by family.
        self._pending: list[str] = []
        self._families: dict[str, tuple[str, ...]] = {}
        self._packs_pending = False
        self._lock = threading.RLock()
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
            pass
        if self._load_for(type_id):
            return self._specs[type_id]
        raise GraphError(f"unknown node type '{type_id}'") from None

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._specs or (isinstance(type_id, str) and self._load_for(type_id))

    def __iter__(self) -> Iterator[NodeSpec]:
        self.load_all()
        return iter(sorted(self._specs.values(), key=lambda s: (s.family, s.type_id)))

    def __len__(self) -> int:
        self.load_all()
        return len(self._specs)

    def families(self) -> dict[str, list[NodeSpec]]:
        out: dict[str, list[NodeSpec]] = {}
        for spec in self:
            out.setdefault(spec.family, []).append(spec)
        return out

    # -- discovery ----------------------------------------------------------------------
    def load_builtin(self, package: str = "nodes") -> None:
        """Import and register every module of ``package`` now."""
        self.lazy_builtin(package)
        self._load_modules(list(self._pending))

    def lazy_builtin(self, package: str = "nodes") -> None:
        """Register ``package``'s modules to import when a type needs them (see the
        module docstring); its ``FAMILIES`` mapping, if any, says which to import first."""
        pkg = importlib.import_module(package)
        names = [
            info.name
            for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{package}.")
            if not info.name.rsplit(".", 1)[-1].startswith("_")
        ]
        families: Mapping[str, Iterable[str]] = getattr(pkg, "FAMILIES", {})
        with self._lock:
            self._pending += [n for n in names if n not in self._pending]
            for family, modules in families.items():
                listed = tuple(f"{package}.{m}" for m in modules)
                self._families[family] = self._families.get(family, ()) + listed

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        with self._lock:
            self._packs_pending = False
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

    def lazy_entry_points(self) -> None:
        """Load the node packs when a type is not a built-in one, or all are listed."""
        with self._lock:
            self._packs_pending = True

    def load_all(self) -> None:
        """Import whatever is still pending: every built-in module, every node pack."""
        if not (self._pending or self._packs_pending):
            return
        with self._lock:
            self._load_modules(list(self._pending))
            if self._packs_pending:
                self.load_entry_points()

    def _load_for(self, type_id: str) -> bool:
        """Import what may define ``type_id`` (its family's modules in their order, until
        it is there; else everything); whether it is registered now."""
        with self._lock:
            for module in self._families.get(type_id.split(".", 1)[0], ()):
                if type_id in self._specs:
                    return True
                if module in self._pending:
                    self._load_modules([module])
            if type_id not in self._specs:
                self.load_all()
            return type_id in self._specs

    def _load_modules(self, names: list[str]) -> None:
        for name in names:
            self.register_module(importlib.import_module(name))
            self._pending.remove(name)


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The built-in nodes plus installed node packs (loaded as needed, thread-safe)."""
    global _default
    with _default_lock:
        if _default is None:
            registry = Registry()
            registry.lazy_builtin()
            registry.lazy_entry_points()
            _default = registry
        return _default
