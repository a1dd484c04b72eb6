"""@node reads signatures into data-only specs; the registry finds them."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import numpy as np
import pytest

from gateway_studio.engine import (
    Choices,
    Color,
    Context,
    Field,
    GatewayError,
    GraphError,
    Image,
    Label,
    ParamError,
    Range,
    Registry,
    SavePath,
    default_registry,
    node,
    parse_color,
)
from gateway_studio.engine.params import ParamSpec

from .fake_nodes import SPECS, add, const


def test_signature_becomes_spec() -> None:
    assert const.type_id == "test.const" and const.version == 1 and const.family == "fake_nodes"
    assert [i.name for i in add.inputs] == ["a", "b"]
    assert add.inputs[0].optional is False and add.inputs[1].optional is True
    value = const.param("value")
    assert value is not None
    assert (value.kind, value.min, value.max, value.step, value.help) == (
        "float",
        0,
        1,
        0.1,
        "the constant",
    )
    size = const.param("size")
    assert size is not None and size.kind == "int" and isinstance(size.max, int)
    assert const.default_params() == {"value": 0.5, "size": 8}
    assert const(value=0.25, size=2).values.tolist() == [[0.25, 0.25], [0.25, 0.25]]


def test_param_kinds_from_annotations() -> None:
    @node("t.kinds", outputs={"out": Field}, family="custom", label="Kinds")
    def kinds(
        image: Image,
        *,
        flag: bool = False,
        mode: Literal["a", "b"] = "a",
        tint: Annotated[Color, Label("Tint colour")] = "#FF8800",
        target: SavePath = "x.png",
        model: Annotated[str, Choices(("small", "large"))] = "small",
        note: str = "",
        ctx: Context,
    ) -> Field:
        """First paragraph is the help.

        Not this one."""
        return Field(np.zeros((1, 1), np.float32))

    kinds_by_name = {p.name: p for p in kinds.params}
    assert {n: p.kind for n, p in kinds_by_name.items()} == {
        "flag": "bool",
        "mode": "choice",
        "tint": "color",
        "target": "path",
        "model": "choice",
        "note": "str",
    }
    assert kinds_by_name["target"].save is True
    assert kinds_by_name["model"].strict is False
    assert kinds_by_name["model"].validate("/some/folder") == "/some/folder"
    assert kinds_by_name["tint"].label == "Tint colour"
    assert kinds.takes_context == "ctx" and kinds.family == "custom" and kinds.label == "Kinds"
    assert kinds.help == "First paragraph is the help."
    listing = kinds.to_json()
    json.dumps(listing)
    assert listing["params"][1]["choices"] == ["a", "b"]
    assert listing["inputs"] == [{"name": "image", "type": "Image", "optional": False}]


def test_bad_node_declarations_fail_at_import() -> None:
    with pytest.raises(TypeError, match="needs a default"):
        node("t.x", outputs={"o": Field})(lambda *, k: None)  # type: ignore[misc]

    def not_slot(a: int) -> None: ...

    with pytest.raises(TypeError, match="not a slot type"):
        node("t.y", outputs={"o": Field})(not_slot)

    def bad_default(*, k: Annotated[float, Range(0, 1)] = 3.0) -> None: ...

    with pytest.raises(ParamError, match="above the maximum"):
        node("t.z", outputs={"o": Field})(bad_default)

    def bad_type(*, k: list[int] = []) -> None: ...  # noqa: B006

    with pytest.raises(TypeError, match="unsupported type"):
        node("t.w", outputs={"o": Field})(bad_type)

    def var(*args: Any) -> None: ...

    with pytest.raises(TypeError, match="not supported"):
        node("t.v", outputs={"o": Field})(var)

    for name in ("a/b", "ümlaut", "two words", ""):  # an output's key ends with its name
        with pytest.raises(TypeError, match="not an ASCII identifier"):
            node("t.u", outputs={name: Field})(lambda: None)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        (ParamSpec("f", "float", 0.0, min=0, max=1), 1, 1.0),
        (ParamSpec("i", "int", 0, min=0, max=10), 3.0, 3),
        (ParamSpec("b", "bool", False), True, True),
        (ParamSpec("c", "choice", "a", choices=("a", "b")), "b", "b"),
        (ParamSpec("k", "color", "#000000"), "#AbCdEf", "#abcdef"),
        (ParamSpec("s", "str", ""), "hi", "hi"),
    ],
)
def test_param_validate_accepts(spec: ParamSpec, value: Any, expected: Any) -> None:
    assert spec.validate(value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        (ParamSpec("f", "float", 0.0, min=0, max=1), 1.7, "above the maximum 1"),
        (ParamSpec("f", "float", 0.0, min=0, max=1), -1, "below the minimum 0"),
        (ParamSpec("f", "float", 0.0), float("nan"), "finite"),
        (ParamSpec("f", "float", 0.0), "1", "a number"),
        (ParamSpec("f", "float", 0.0), True, "a number"),
        (ParamSpec("i", "int", 0), 2.5, "whole number"),
        (ParamSpec("b", "bool", False), 1, "true or false"),
        (ParamSpec("c", "choice", "a", choices=("a", "b")), "z", "not one of 'a', 'b'"),
        (ParamSpec("k", "color", "#000000"), "red", "#rrggbb"),
        (ParamSpec("s", "str", ""), 3, "a string"),
    ],
)
def test_param_validate_refuses(spec: ParamSpec, value: Any, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        spec.validate(value)


def test_param_parse_text() -> None:
    assert ParamSpec("b", "bool", False).parse_text("Yes") is True
    assert ParamSpec("b", "bool", True).parse_text("off") is False
    assert ParamSpec("f", "float", 0.0).parse_text("0.25") == 0.25
    assert ParamSpec("i", "int", 0).parse_text("7") == 7
    assert ParamSpec("i", "int", 0).parse_text("50.0") == 50
    with pytest.raises(ParamError, match="whole number"):
        ParamSpec("i", "int", 0).parse_text("2.5")
    with pytest.raises(ParamError):
        ParamSpec("b", "bool", False).parse_text("maybe")
    with pytest.raises(ParamError, match="an int number"):
        ParamSpec("i", "int", 0).parse_text("seven")
    assert parse_color("#ff0000") == (1.0, 0.0, 0.0)


def test_compute_checks_the_declared_outputs() -> None:
    from .fake_nodes import wrong

    with pytest.raises(GatewayError, match="returned ndarray"):
        wrong.compute({"a": Field(np.zeros((1, 1), np.float32))}, {}, Context())


def test_registry_lists_families_and_refuses_duplicates() -> None:
    reg = Registry(SPECS)
    assert "test.const" in reg and len(reg) == len(SPECS)
    assert set(reg.families()) == {"fake_nodes"}
    reg.register(const)  # same object twice is fine
    clone = node("test.const", outputs={"field": Field})(const.func)
    with pytest.raises(GraphError, match="registered twice"):
        reg.register(clone)
    with pytest.raises(GraphError, match="unknown node type 'nope'"):
        reg.get("nope")


def test_default_registry_has_the_engine_nodes() -> None:
    reg = default_registry()
    for type_id in ("source.image", "depth.from_file", "field.remap", "output.export"):
        assert type_id in reg
    assert default_registry() is reg


def test_entry_point_node_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import gateway_studio.engine.registry as registry_module

    pack = types.ModuleType("pack")
    pack.const = const  # type: ignore[attr-defined]

    class EP:
        def __init__(self, name: str, obj: Any) -> None:
            self.name, self.value, self._obj = name, f"{name}:x", obj

        def load(self) -> Any:
            if isinstance(self._obj, Exception):
                raise self._obj
            return self._obj

    eps = [EP("module", pack), EP("callable", lambda: [add]), EP("broken", ImportError("no"))]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps)
    reg = Registry()
    with pytest.warns(UserWarning, match="node pack 'broken'"):
        reg.load_entry_points()
    assert "test.const" in reg and "test.add" in reg
    assert reg.load_errors and reg.load_errors[0][0] == "broken"
