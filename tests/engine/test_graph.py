"""Graph edits are checked: types, cycles, unknown nodes and params, missing inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gateway_studio.engine import Depth, Field, GraphError, Link, Mask, PatchGraph, node

from .fake_nodes import registry


@pytest.fixture
def graph() -> PatchGraph:
    g = PatchGraph(registry())
    g.add_node("test.const", node_id="a")
    g.add_node("test.const", {"value": 0.2}, node_id="b")
    g.add_node("test.add", node_id="sum")
    return g


def test_add_connect_and_query(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "a"))
    graph.connect(Link("b", "field", "sum", "b"))
    assert graph.incoming("sum") == {"a": ("a", "field"), "b": ("b", "field")}
    assert graph.links() == [Link("a", "field", "sum", "a"), Link("b", "field", "sum", "b")]
    assert graph.topological_order() == ["a", "b", "sum"]
    assert graph.descendants("a") == {"sum"} and graph.ancestors("sum") == {"a", "b"}
    assert graph.sinks() == ["sum"]
    assert str(graph.links()[0]) == "a.field → sum.a"
    assert graph.node("b").params == {"value": 0.2, "size": 8}


def test_one_link_per_input_replaces(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "a"))
    previous = graph.connect(Link("b", "field", "sum", "a"))
    assert previous == Link("a", "field", "sum", "a")
    assert graph.incoming("sum") == {"a": ("b", "field")}
    assert graph.disconnect("sum", "a") == Link("b", "field", "sum", "a")
    assert graph.disconnect("sum", "a") is None


def test_two_links_between_the_same_nodes(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "a"))
    graph.connect(Link("a", "field", "sum", "b"))
    assert len(graph.links()) == 2
    graph.disconnect("sum", "a")
    assert graph.links() == [Link("a", "field", "sum", "b")]


def test_incompatible_types_are_refused_naming_both_ends(graph: PatchGraph) -> None:
    graph.add_node("test.size", node_id="sz")
    before = graph.links()
    with pytest.raises(GraphError, match=r"a\.field \(Field\) to sz\.image \(Image\)"):
        graph.connect(Link("a", "field", "sz", "image"))
    assert graph.links() == before


def test_depth_and_mask_connect_to_field_inputs(graph: PatchGraph) -> None:
    graph.add_node("test.depth", node_id="d")
    graph.connect(Link("d", "depth", "sum", "a"))  # Depth → Field input: accepted

    @node("test.mask", outputs={"mask": Mask})
    def mask() -> Mask:
        return Mask(np.ones((2, 2), np.float32))

    @node("test.needs_depth", outputs={"field": Field})
    def needs_depth(depth: Depth) -> Field:
        return Field(depth.values)

    graph.registry.register(mask)
    graph.registry.register(needs_depth)
    graph.add_node("test.mask", node_id="m")
    graph.connect(Link("m", "mask", "sum", "b"))  # Mask (a Field subclass): accepted
    assert graph.incoming("sum") == {"a": ("d", "depth"), "b": ("m", "mask")}
    # ...but not the other way round: a plain Field is no Depth (its convention is unknown)
    graph.add_node("test.needs_depth", node_id="n")
    with pytest.raises(GraphError, match=r"a\.field \(Field\) to n\.depth \(Depth\)"):
        graph.connect(Link("a", "field", "n", "depth"))
    assert "n" not in {lk.dst for lk in graph.links()}


def test_cycles_are_refused(graph: PatchGraph) -> None:
    graph.add_node("test.add", node_id="sum2")
    graph.connect(Link("sum", "field", "sum2", "a"))
    with pytest.raises(GraphError, match="cycle"):
        graph.connect(Link("sum2", "field", "sum", "a"))
    with pytest.raises(GraphError, match="cycle"):
        graph.connect(Link("sum", "field", "sum", "b"))


def test_unknown_slots_nodes_and_params(graph: PatchGraph) -> None:
    with pytest.raises(GraphError, match="has no output 'nope'"):
        graph.connect(Link("a", "nope", "sum", "a"))
    with pytest.raises(GraphError, match="has no input 'c'"):
        graph.connect(Link("a", "field", "sum", "c"))
    with pytest.raises(GraphError, match="no node with id 'zz'"):
        graph.connect(Link("zz", "field", "sum", "a"))
    with pytest.raises(GraphError, match="unknown node type"):
        graph.add_node("no.such")
    with pytest.raises(GraphError, match="already exists"):
        graph.add_node("test.const", node_id="a")
    with pytest.raises(GraphError, match="must start with a letter"):
        graph.add_node("test.const", node_id="1 bad")
    with pytest.raises(GraphError, match="has no param 'strength'"):
        graph.set_param("a", "strength", 1.0)
    with pytest.raises(GraphError, match=r"a\.value: 1\.7 is above the maximum 1"):
        graph.set_param("a", "value", 1.7)
    assert graph.set_param("a", "value", 0.9) == 0.5


def test_missing_required_inputs_are_named(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "b"))
    assert graph.missing_inputs("sum") == ["a"]
    with pytest.raises(GraphError, match=r"not connected: sum\.a"):
        graph.check_ready()


def test_remove_node_returns_links_and_new_ids(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "a"))
    assert graph.remove_node("a") == [Link("a", "field", "sum", "a")]
    assert "a" not in graph and len(graph) == 2
    assert graph.new_id("test.const") == "const"
    graph.add_node("test.const")
    assert graph.new_id("test.const") == "const2"


def test_snapshot_is_independent(graph: PatchGraph) -> None:
    snap = graph.snapshot()
    graph.set_param("a", "value", 0.9)
    graph.connect(Link("a", "field", "sum", "a"))
    assert snap.node("a").params["value"] == 0.5 and snap.links() == []


def random_dag(seed: int, n: int = 30) -> PatchGraph:
    """``n`` nodes with links only from lower to higher numbers, ids out of order."""
    rng = np.random.default_rng(seed)
    g = PatchGraph(registry())
    ids = [f"n{int(i)}" for i in rng.permutation(n)]
    for i, node_id in enumerate(ids):
        g.add_node("test.const" if i < 3 else "test.add", node_id=node_id)
    for i in range(3, n):
        a, b = rng.choice(i, size=2, replace=False)
        g.connect(Link(ids[a], "field", ids[i], "a"))
        if rng.random() < 0.5:
            g.connect(Link(ids[b], "field", ids[i], "b"))
    return g


@pytest.mark.parametrize("seed", range(5))
def test_order_reach_and_cycles_are_networkx_s(seed: int) -> None:
    import networkx as nx

    g = random_dag(seed)
    reference = nx.DiGraph()
    reference.add_nodes_from(g.graph.nodes)
    reference.add_edges_from((u, v) for u, v, _ in g.graph.edges(data=True))
    assert g.topological_order() == list(nx.lexicographical_topological_sort(reference))
    for node_id in list(g.graph.nodes)[::7]:
        assert g.descendants(node_id) == nx.descendants(reference, node_id)
        assert g.ancestors(node_id) == nx.ancestors(reference, node_id)
    assert g.find_cycle() is None
    last = g.topological_order()[-1]
    feeder = next(n for n in g.ancestors(last) if g.spec(n).inputs)
    g.connect(Link(last, "field", feeder, "a"), check_cycle=False)  # loading checks later
    cycle = g.find_cycle()
    assert cycle is not None and cycle[0] == cycle[-1] and len(cycle) > 2
    assert all(g.graph.has_edge(u, v) for u, v in itertools.pairwise(cycle))
    with pytest.raises(GraphError, match="cycle"):
        g.topological_order()


def test_the_plan_is_built_once_per_structural_edit(graph: PatchGraph) -> None:
    graph.connect(Link("a", "field", "sum", "a"))
    plan = graph.plan()
    assert graph.plan() is plan and plan.order == ("a", "b", "sum")
    graph.set_param("b", "value", 0.9)  # not structural: same plan
    assert graph.plan() is plan
    copy = graph.snapshot()
    assert copy.plan() is plan  # a snapshot has the same shape
    graph.connect(Link("b", "field", "sum", "b"))
    assert graph.plan() is not plan
    assert graph.plan().incoming["sum"] == (("a", "a", "field"), ("b", "b", "field"))
    assert copy.plan() is plan  # the snapshot did not change
    graph.remove_node("b")
    assert graph.plan().order == ("a", "sum")


def test_a_networkx_graph_put_in_its_place_works(graph: PatchGraph) -> None:
    """The app's undo of a removal rebuilds the graph as a networkx.DiGraph."""
    import networkx as nx

    graph.connect(Link("a", "field", "sum", "a"))
    fresh = nx.DiGraph()
    fresh.add_nodes_from((n, graph.graph.nodes[n]) for n in ["sum", "b", "a"])
    fresh.add_edges_from(graph.graph.edges(data=True))
    graph.graph = fresh
    assert graph.topological_order() == ["a", "b", "sum"]
    assert graph.incoming("sum") == {"a": ("a", "field")}
    graph.connect(Link("b", "field", "sum", "b"))
    assert graph.plan().incoming["sum"][1] == ("b", "b", "field")
    assert graph.descendants("b") == {"sum"} and graph.find_cycle() is None
    with pytest.raises(GraphError, match="cycle"):
        graph.connect(Link("sum", "field", "sum", "a"))


def test_the_plan_holds_each_nodes_spec_and_unconnected_required_inputs(
    graph: PatchGraph,
) -> None:
    graph.connect(Link("a", "field", "sum", "b"))  # sum.a (required) left unconnected
    plan = graph.plan()
    assert plan.specs == {n: graph.spec(n) for n in ("a", "b", "sum")}
    assert plan.missing == {"a": (), "b": (), "sum": ("a",)}
    assert plan.missing["sum"] == tuple(graph.missing_inputs("sum"))
    graph.registry = registry()  # another registry object: the plan is built again
    assert graph.plan() is not plan and graph.plan().specs["sum"] is graph.spec("sum")
