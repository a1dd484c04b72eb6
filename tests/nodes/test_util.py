"""util.reroute_*: one pass-through per slot type, typed as its input."""

from __future__ import annotations

import numpy as np

from gateway_studio.engine import Evaluator, PatchGraph, default_registry
from gateway_studio.engine.errors import GraphError
from gateway_studio.engine.graph import Link
from gateway_studio.engine.slots import SLOT_TYPES
from nodes.util import REROUTE_PREFIX, reroute_type


def test_one_reroute_per_slot_type_typed_as_its_input() -> None:
    registry = default_registry()
    for name in SLOT_TYPES:
        spec = registry.get(reroute_type(name))
        assert spec.type_id.startswith(REROUTE_PREFIX)
        assert [i.type_name for i in spec.inputs] == [name]
        assert [o.type_name for o in spec.outputs] == [name]
        assert not spec.params
        assert name in spec.label


def test_a_reroute_passes_the_value_unchanged_and_type_checks_through() -> None:
    graph = PatchGraph(default_registry())
    graph.add_node("source.sample_rgbd", {"name": "motorcycle"}, node_id="src")
    graph.add_node("util.reroute_depth", node_id="dot")
    graph.add_node("field.remap", {"gamma": 2.0}, node_id="remap")
    graph.connect(Link("src", "depth", "dot", "value"))
    graph.connect(Link("dot", "value", "remap", "source"))
    with_dot = Evaluator().evaluate(graph)
    assert with_dot.ok
    assert with_dot.output("dot") is not None
    np.testing.assert_array_equal(
        with_dot.output("dot").values,  # type: ignore[attr-defined]
        with_dot.output("src", "depth").values,  # type: ignore[attr-defined]
    )
    direct = PatchGraph(default_registry())
    direct.add_node("source.sample_rgbd", {"name": "motorcycle"}, node_id="src")
    direct.add_node("field.remap", {"gamma": 2.0}, node_id="remap")
    direct.connect(Link("src", "depth", "remap", "source"))
    np.testing.assert_array_equal(
        Evaluator().evaluate(direct).output("remap").values,  # type: ignore[attr-defined]
        with_dot.output("remap").values,  # type: ignore[attr-defined]
    )
    # an Image cannot go through a Depth dot
    graph.add_node("util.reroute_depth", node_id="dot2")
    try:
        graph.check_link(Link("src", "image", "dot2", "value"))
    except GraphError as exc:
        assert "incompatible" in str(exc)
    else:
        raise AssertionError("an Image was accepted by a Depth reroute")
