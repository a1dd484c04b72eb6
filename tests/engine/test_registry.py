"""The registry loads node modules as types are asked for; nodes.FAMILIES must be true."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import types
from typing import Any

import pytest

import nodes
from gateway_studio.engine import GraphError, NodeSpec, Registry
from gateway_studio.engine import registry as registry_module

from .fake_nodes import add, const


def builtin_modules() -> dict[str, list[str]]:
    """Every public module of ``nodes`` → the type ids it defines (a full import)."""
    out: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(nodes.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"nodes.{info.name}")
        out[info.name] = [v.type_id for v in vars(module).values() if isinstance(v, NodeSpec)]
    return out


def test_the_family_table_names_the_modules_that_define_each_family() -> None:
    defined = builtin_modules()
    for module, type_ids in defined.items():
        for type_id in type_ids:
            family = type_id.split(".", 1)[0]
            assert module in nodes.FAMILIES.get(family, ()), (
                f"{type_id} is defined in nodes/{module}.py: add it to nodes.FAMILIES['{family}']"
            )
    for family, modules in nodes.FAMILIES.items():
        for module in modules:
            assert module in defined, f"nodes.FAMILIES['{family}'] names no module {module}"


def loaded(code: str) -> list[str]:
    """The ``nodes.*`` modules a fresh interpreter has imported after ``code``."""
    script = f"import sys\n{code}\nprint(sorted(m for m in sys.modules if m.startswith('nodes.')))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    return [m for m in names if not m.split(".")[1].startswith("_")]


def test_asking_for_a_type_imports_its_familys_module_only() -> None:
    code = (
        "from gateway_studio.engine import default_registry\n"
        "r = default_registry()\n"
        "assert r.get('field.remap').type_id == 'field.remap'\n"
        "assert 'depth.from_file' in r\n"
    )
    assert loaded(code) == ["nodes.depth_files", "nodes.fields"]


def test_listing_or_an_unknown_type_loads_everything() -> None:
    every = sorted(f"nodes.{m}" for m in builtin_modules())
    listed = "from gateway_studio.engine import default_registry\nlen(default_registry())\n"
    assert loaded(listed) == every
    unknown = (
        "from gateway_studio.engine import default_registry\n"
        "assert 'field.nonexistent' not in default_registry()\n"
    )
    assert loaded(unknown) == every


def test_a_lazy_registry_answers_as_a_full_one(monkeypatch: pytest.MonkeyPatch) -> None:
    full = Registry()
    full.load_builtin()
    lazy = Registry()
    lazy.lazy_builtin()
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [])
    lazy.lazy_entry_points()
    assert lazy.get("modulate.isolate") is full.get("modulate.isolate")
    with pytest.raises(GraphError, match=r"unknown node type 'modulate\.nope'"):
        lazy.get("modulate.nope")
    assert [s.type_id for s in lazy] == [s.type_id for s in full]
    assert lazy.families().keys() == full.families().keys()


def test_node_packs_load_when_a_type_is_not_built_in(monkeypatch: pytest.MonkeyPatch) -> None:
    pack = types.ModuleType("pack")
    pack.const = const  # type: ignore[attr-defined]
    calls: list[str] = []

    class EP:
        name, value = "pack", "pack:x"

        def load(self) -> Any:
            calls.append("loaded")
            return pack

    monkeypatch.setattr(registry_module, "entry_points", lambda group: [EP()])
    reg = Registry([add])
    reg.lazy_builtin()
    reg.lazy_entry_points()
    assert reg.get("source.image").type_id == "source.image" and calls == []
    assert reg.get("test.const") is const and calls == ["loaded"]
    len(reg)  # everything is loaded already: the pack is not loaded twice
    assert calls == ["loaded"]
