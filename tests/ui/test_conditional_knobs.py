"""Conditional knobs: a param spec says when it applies; the inspector greys out the
others and says when they would apply."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest

from gateway_studio.engine import Field, Range, Registry, When, node
from gateway_studio.engine.registry import default_registry


@node("test.normalise", outputs={"field": Field})
def normalise(
    source: Field,
    *,
    normalisation: Literal["minmax", "percentile", "fixed"] = "minmax",
    fixed_near: Annotated[float, Range(0, 1, 0.01), When("normalisation", "fixed")] = 1.0,
    fixed_far: Annotated[float, Range(0, 1, 0.01), When("normalisation", "fixed")] = 0.0,
    low: Annotated[float, Range(0, 50), When("normalisation", "percentile", "fixed")] = 2.0,
) -> Field:
    """Normalise a field."""
    return source


def test_a_param_spec_says_when_it_applies() -> None:
    near = normalise.param("fixed_near")
    assert near is not None and near.when is not None
    defaults = normalise.default_params()
    assert not near.applies({}, defaults)
    assert near.applies({"normalisation": "fixed"}, defaults)
    assert near.when_text() == "applies when normalisation is fixed"
    assert near.to_json()["when"] == {"param": "normalisation", "in": ["fixed"]}
    low = normalise.param("low")
    assert low is not None and low.applies({"normalisation": "percentile"}, defaults)
    assert normalise.param("normalisation").applies({}, defaults)  # type: ignore[union-attr]


def test_a_condition_on_a_missing_param_or_value_fails_at_import() -> None:
    with pytest.raises(TypeError, match="no such param"):

        @node("test.bad", outputs={"field": Field})
        def bad(source: Field, *, k: Annotated[float, When("nope", 1)] = 0.0) -> Field:
            return source

    with pytest.raises(TypeError, match="When value 'sometimes'"):

        @node("test.bad2", outputs={"field": Field})
        def bad2(
            source: Field,
            *,
            mode: Literal["a", "b"] = "a",
            k: Annotated[float, When("mode", "sometimes")] = 0.0,
        ) -> Field:
            return source


def test_the_inspector_greys_out_knobs_that_do_not_apply(qtbot) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.document import Document
    from gateway_studio.ui.inspector import Inspector

    registry = Registry()
    for spec in default_registry():
        registry.register(spec)
    registry.register(normalise)
    doc = Document(registry)
    doc.add_node("test.normalise", node_id="n")
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    inspector.set_node("n")
    near, low = inspector.editors["fixed_near"], inspector.editors["low"]
    assert not near.isEnabled() and not low.isEnabled()
    assert "applies when normalisation is fixed" in inspector.labels["fixed_near"].toolTip()
    assert inspector.editors["normalisation"].isEnabled()
    doc.set_param("n", "normalisation", "percentile")
    assert low.isEnabled() and not near.isEnabled()
    doc.set_param("n", "normalisation", "fixed")
    assert near.isEnabled() and inspector.editors["fixed_far"].isEnabled()
    doc.undo_stack.undo()  # back to percentile: greyed again
    assert not near.isEnabled() and low.isEnabled()
