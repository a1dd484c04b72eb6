"""The patch graph: node instances and the links between their slots.

A ``PatchGraph`` wraps a ``networkx.DiGraph`` whose nodes are node ids (attribute
``node``: a ``NodeInstance``) and whose edges carry the slot links between two nodes
(attribute ``links``: {input slot name: output slot name}). Every edit is checked here:
unknown types or params, incompatible slot types, cycles and missing required inputs are
refused with a ``GraphError`` naming the nodes and slots. The graph knows nothing of Qt;
the UI edits it through undo commands and hands the evaluator a ``snapshot()``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from .consent import WriteConsent
from .errors import GraphError
from .node import NodeSpec
from .params import ParamError
from .paths import path_problem
from .registry import Registry

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass
class NodeInstance:
    id: str
    type_id: str
    params: dict[str, Any]
    position: tuple[float, float] | None = None
    #: Bypassed nodes pass their first compatible input through unchanged.
    bypass: bool = False
    title: str = ""


@dataclass(frozen=True, order=True)
class Link:
    src: str
    src_slot: str
    dst: str
    dst_slot: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_slot} → {self.dst}.{self.dst_slot}"


@dataclass
class Backdrop:
    """A titled frame grouping nodes on the canvas (x, y, width, height)."""

    title: str
    rect: tuple[float, float, float, float]
    color: str = "#3a4a5a"


@dataclass
class PatchGraph:
    registry: Registry
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    metadata: dict[str, Any] = field(default_factory=dict)
    backdrops: list[Backdrop] = field(default_factory=list)
    #: Folder that relative paths in params resolve against (the patch file's folder).
    base_dir: Path | None = None
    #: Where the graph may write besides its folder (see ``consent.py``).
    write_consent: WriteConsent = field(default_factory=WriteConsent)
    #: The patch file the graph was read from (a render must not write over it).
    source_file: Path | None = None

    # -- nodes ----------------------------------------------------------------------------
    def spec(self, node_id: str) -> NodeSpec:
        return self.registry.get(self.node(node_id).type_id)

    def node(self, node_id: str) -> NodeInstance:
        try:
            inst: NodeInstance = self.graph.nodes[node_id]["node"]
        except KeyError:
            raise GraphError(f"no node with id '{node_id}'") from None
        return inst

    def nodes(self) -> Iterator[NodeInstance]:
        for node_id in self.graph.nodes:
            yield self.graph.nodes[node_id]["node"]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph

    def __len__(self) -> int:
        return int(self.graph.number_of_nodes())

    def new_id(self, type_id: str) -> str:
        base = type_id.rsplit(".", 1)[-1]
        if base not in self.graph:
            return base
        n = 2
        while f"{base}{n}" in self.graph:
            n += 1
        return f"{base}{n}"

    def add_node(
        self,
        type_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        node_id: str | None = None,
        position: tuple[float, float] | None = None,
        bypass: bool = False,
        title: str = "",
    ) -> NodeInstance:
        spec = self.registry.get(type_id)
        node_id = node_id or self.new_id(type_id)
        if not _ID_RE.match(node_id):
            raise GraphError(
                f"node id '{node_id}' must start with a letter or _ and hold only letters, "
                "digits, _ and -"
            )
        if node_id in self.graph:
            raise GraphError(f"a node with id '{node_id}' already exists")
        values = spec.default_params()
        for name, value in (params or {}).items():
            values[name] = self._checked_param(spec, node_id, name, value)
        inst = NodeInstance(node_id, type_id, values, position, bypass, title)
        self.graph.add_node(node_id, node=inst)
        return inst

    def remove_node(self, node_id: str) -> list[Link]:
        """Remove a node and its links; returns the removed links (for undo)."""
        self.node(node_id)
        removed = [lk for lk in self.links() if node_id in (lk.src, lk.dst)]
        self.graph.remove_node(node_id)
        return removed

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set a param (validated); returns the previous value."""
        inst = self.node(node_id)
        spec = self.registry.get(inst.type_id)
        old = inst.params.get(name)
        inst.params[name] = self._checked_param(spec, node_id, name, value)
        return old

    @staticmethod
    def _checked_param(spec: NodeSpec, node_id: str, name: str, value: Any) -> Any:
        pspec = spec.param(name)
        if pspec is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise GraphError(f"{node_id}: {spec.type_id} has no param '{name}' (params: {known})")
        try:
            value = pspec.validate(value)
        except ParamError as exc:
            raise GraphError(f"{node_id}.{name}: {exc}") from None
        problem = path_problem(value) if pspec.kind == "path" and value else None
        if problem:
            raise GraphError(f"{node_id}.{name}: the path {problem}")
        return value

    # -- links ----------------------------------------------------------------------------
    def links(self) -> list[Link]:
        out = [
            Link(u, src_slot, v, dst_slot)
            for u, v, data in self.graph.edges(data=True)
            for dst_slot, src_slot in data["links"].items()
        ]
        return sorted(out)

    def incoming(self, node_id: str) -> dict[str, tuple[str, str]]:
        """{input slot: (source node, source slot)} of one node."""
        out: dict[str, tuple[str, str]] = {}
        for u, _, data in self.graph.in_edges(node_id, data=True):
            for dst_slot, src_slot in data["links"].items():
                out[dst_slot] = (u, src_slot)
        return out

    def check_link(self, link: Link, *, cycle: bool = True) -> None:
        """Raise GraphError if ``link`` may not be made (types, slots, and with ``cycle``
        a cycle: a path search, O(nodes); loading checks cycles once instead)."""
        src_spec, dst_spec = self.spec(link.src), self.spec(link.dst)
        out = src_spec.output(link.src_slot)
        if out is None:
            names = ", ".join(o.name for o in src_spec.outputs) or "none"
            raise GraphError(
                f"{link.src} ({src_spec.type_id}) has no output '{link.src_slot}' "
                f"(outputs: {names})"
            )
        inp = dst_spec.input(link.dst_slot)
        if inp is None:
            names = ", ".join(i.name for i in dst_spec.inputs) or "none"
            raise GraphError(
                f"{link.dst} ({dst_spec.type_id}) has no input '{link.dst_slot}' (inputs: {names})"
            )
        if not inp.accepts(out.type):
            raise GraphError(
                f"cannot connect {link.src}.{link.src_slot} ({out.type_name}) to "
                f"{link.dst}.{link.dst_slot} ({inp.type_name}): incompatible slot types"
            )
        if link.src == link.dst or (cycle and nx.has_path(self.graph, link.dst, link.src)):
            raise GraphError(
                f"cannot connect {link.src}.{link.src_slot} to {link.dst}.{link.dst_slot}: "
                f"it would make a cycle ({link.dst} already feeds {link.src})"
            )

    def connect(self, link: Link, *, check_cycle: bool = True) -> Link | None:
        """Make a link; an input holds one link, so a previous one is replaced (returned).
        ``check_cycle=False`` (bulk loading) leaves the cycle check to ``find_cycle``."""
        self.check_link(link, cycle=check_cycle)
        previous = self.disconnect(link.dst, link.dst_slot)
        if self.graph.has_edge(link.src, link.dst):
            self.graph.edges[link.src, link.dst]["links"][link.dst_slot] = link.src_slot
        else:
            self.graph.add_edge(link.src, link.dst, links={link.dst_slot: link.src_slot})
        return previous

    def disconnect(self, dst: str, dst_slot: str) -> Link | None:
        """Remove the link into ``dst.dst_slot``; returns it, or None if there was none."""
        for u, _, data in list(self.graph.in_edges(dst, data=True)):
            if dst_slot in data["links"]:
                src_slot = data["links"].pop(dst_slot)
                if not data["links"]:
                    self.graph.remove_edge(u, dst)
                return Link(u, src_slot, dst, dst_slot)
        return None

    # -- analysis -------------------------------------------------------------------------
    def find_cycle(self) -> list[str] | None:
        """The nodes of one cycle (first node repeated at the end), or None: O(nodes+links)."""
        try:
            edges = nx.find_cycle(self.graph)
        except nx.NetworkXNoCycle:
            return None
        return [str(u) for u, _v, *_ in edges] + [str(edges[0][0])]

    def missing_inputs(self, node_id: str) -> list[str]:
        spec = self.spec(node_id)
        connected = self.incoming(node_id)
        return [i.name for i in spec.inputs if not i.optional and i.name not in connected]

    def check_ready(self, node_ids: Iterable[str] | None = None) -> None:
        """Refuse to run a graph with unconnected required inputs, naming all of them."""
        ids = list(node_ids) if node_ids is not None else list(self.graph.nodes)
        problems = [f"{nid}.{slot}" for nid in ids for slot in self.missing_inputs(nid)]
        if problems:
            raise GraphError("required inputs are not connected: " + ", ".join(problems))

    def topological_order(self) -> list[str]:
        # Sorted tie-breaks make the order (and so event logs) deterministic.
        return list(nx.lexicographical_topological_sort(self.graph))

    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """The nodes and all their ancestors, in one pass (GraphError for an unknown id)."""
        seen: set[str] = set()
        stack = list(node_ids)
        for node_id in stack:
            self.node(node_id)
        pred = self.graph.pred
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(p for p in pred[n] if p not in seen)
        return seen

    def descendants(self, node_id: str) -> set[str]:
        return set(nx.descendants(self.graph, node_id))

    def ancestors(self, node_id: str) -> set[str]:
        return set(nx.ancestors(self.graph, node_id))

    def sinks(self) -> list[str]:
        return sorted(n for n in self.graph.nodes if self.graph.out_degree(n) == 0)

    def snapshot(self) -> PatchGraph:
        """A deep, independent copy for a worker thread (the UI keeps editing its own)."""
        return PatchGraph(
            self.registry,
            copy.deepcopy(self.graph),
            copy.deepcopy(self.metadata),
            copy.deepcopy(self.backdrops),
            self.base_dir,
            self.write_consent,
            self.source_file,
        )
