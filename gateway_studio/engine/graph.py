"""The patch graph: node instances and the links between their slots.

A ``PatchGraph`` wraps a directed graph (``digraph.Digraph``, networkx's interface in
plain dicts) whose nodes are node ids (attribute ``node``: a ``NodeInstance``) and whose
edges carry the slot links between two nodes (attribute ``links``: {input slot name:
output slot name}). Every edit is checked here: unknown types or params, incompatible
slot types, cycles and missing required inputs are refused with a ``GraphError`` naming
the nodes and slots. The graph knows nothing of Qt; the UI edits it through undo
commands and hands the evaluator a ``snapshot()``.

What evaluating needs of the graph's shape — the run order and each node's links in —
is a ``Plan``, built once per structural edit (``plan()``): a knob change or a repeated
evaluation reuses it. Edits through this class count as structural (``revision``);
code that replaces ``graph`` with another object gets a new plan too.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .consent import WriteConsent
from .digraph import Digraph
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


#: One link into a node: (input slot, source node, source slot).
LinkIn = tuple[str, str, str]


@dataclass(frozen=True)
class Plan:
    """The graph's shape as the evaluator walks it, valid until the next structural edit."""

    #: Topological order, lexicographic among nodes that could go in either order.
    order: tuple[str, ...]
    #: Each node's place in ``order``.
    index: Mapping[str, int]
    #: Each node's links in, sorted by input slot.
    incoming: Mapping[str, tuple[LinkIn, ...]]
    #: Each node's instance (the same objects as the graph's: params edited in place
    #: show; adding or removing a node is a structural edit).
    nodes: Mapping[str, NodeInstance]
    #: Nodes whose every consumer writes files (``output.export``): what they make is
    #: saved already, in those files (``cache.worth_persisting``).
    written_only: frozenset[str] = frozenset()
    #: Each node's spec (a node's type is fixed once it is added; the registry's spec
    #: for a type id never changes).
    specs: Mapping[str, NodeSpec] = field(default_factory=dict)
    #: Each node's required inputs that no link feeds, in the spec's order.
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class PatchGraph:
    registry: Registry
    graph: Digraph = field(default_factory=Digraph)
    metadata: dict[str, Any] = field(default_factory=dict)
    backdrops: list[Backdrop] = field(default_factory=list)
    #: Folder that relative paths in params resolve against (the patch file's folder).
    base_dir: Path | None = None
    #: Where the graph may write besides its folder (see ``consent.py``).
    write_consent: WriteConsent = field(default_factory=WriteConsent)
    #: The patch file the graph was read from (a render must not write over it).
    source_file: Path | None = None
    #: Counts structural edits (nodes and links added or removed): a ``Plan`` is valid
    #: for one revision of one ``graph`` object.
    revision: int = field(default=0, init=False, compare=False)
    _plan: tuple[object, int, Plan, Registry] | None = field(
        default=None, init=False, repr=False, compare=False
    )

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
        self.revision += 1
        return inst

    def remove_node(self, node_id: str) -> list[Link]:
        """Remove a node and its links; returns the removed links (for undo)."""
        self.node(node_id)
        removed = [lk for lk in self.links() if node_id in (lk.src, lk.dst)]
        self.graph.remove_node(node_id)
        self.revision += 1
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
        if node_id not in self.graph:
            return out
        for u, data in self.graph.pred[node_id].items():
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
        if link.src == link.dst or (cycle and self._reaches(link.dst, link.src)):
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
        self.revision += 1
        return previous

    def disconnect(self, dst: str, dst_slot: str) -> Link | None:
        """Remove the link into ``dst.dst_slot``; returns it, or None if there was none."""
        for u, _, data in list(self.graph.in_edges(dst, data=True)):
            if dst_slot in data["links"]:
                src_slot = data["links"].pop(dst_slot)
                if not data["links"]:
                    self.graph.remove_edge(u, dst)
                self.revision += 1
                return Link(u, src_slot, dst, dst_slot)
        return None

    # -- analysis -------------------------------------------------------------------------
    def find_cycle(self) -> list[str] | None:
        """The nodes of one cycle (first node repeated at the end), or None: O(nodes+links),
        depth-first without recursion (a patch may hold thousands of nodes)."""
        succ = self.graph.succ
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in self.graph.nodes:
            if root in state:
                continue
            path, branches = [root], [iter(succ[root])]
            state[root] = 1
            while branches:
                nxt = next(branches[-1], None)
                if nxt is None:
                    state[path.pop()] = 2
                    branches.pop()
                elif state.get(nxt) == 1:  # back to a node on the path: a cycle
                    cycle = path[path.index(nxt) :]
                    return [str(n) for n in cycle] + [str(nxt)]
                elif nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    branches.append(iter(succ[nxt]))
        return None

    def _reaches(self, src: str, dst: str) -> bool:
        """Whether a path of links leads from ``src`` to ``dst``."""
        return dst in self._reachable([src], self.graph.succ)

    def _reachable(self, starts: Iterable[str], step: Mapping[Any, Iterable[Any]]) -> set[str]:
        """``starts`` and every node reached from them through ``step`` (succ or pred)."""
        seen: set[str] = set()
        stack = list(starts)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(m for m in step[n] if m not in seen)
        return seen

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
        """Every node after the nodes feeding it; among nodes free to go first, the
        smallest id first, so the order (and so event logs) is deterministic."""
        return list(self.plan().order)

    def plan(self) -> Plan:
        """The run order and each node's links in, built once per structural edit (or
        when ``graph`` or ``registry`` is replaced by another object)."""
        cached = self._plan
        if (
            cached is not None
            and cached[0] is self.graph
            and cached[1] == self.revision
            and cached[3] is self.registry
        ):
            return cached[2]
        plan = self._make_plan()
        self._plan = (self.graph, self.revision, plan, self.registry)
        return plan

    def _make_plan(self) -> Plan:
        pred, succ = self.graph.pred, self.graph.succ
        incoming: dict[str, tuple[LinkIn, ...]] = {}
        waiting: dict[str, int] = {}
        nodes = {node_id: self.node(node_id) for node_id in self.graph.nodes}
        for node_id in nodes:
            links = [
                (d, u, s) for u, data in pred[node_id].items() for d, s in data["links"].items()
            ]
            incoming[node_id] = tuple(sorted(links))
            waiting[node_id] = len(pred[node_id])
        ready = [n for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            n = heapq.heappop(ready)
            order.append(n)
            for m in succ[n]:
                waiting[m] -= 1
                if waiting[m] == 0:
                    heapq.heappush(ready, m)
        if len(order) < len(waiting):
            cycle = self.find_cycle() or []
            raise GraphError("the links make a cycle: " + " → ".join(cycle))
        specs = {n: self.registry.get(inst.type_id) for n, inst in nodes.items()}
        writers = {n for n, spec in specs.items() if spec.writes_files}
        written_only = frozenset(n for n in nodes if succ[n] and writers.issuperset(succ[n]))
        missing = {
            n: tuple(
                i.name
                for i in spec.inputs
                if not i.optional and all(slot != i.name for slot, _, _ in incoming[n])
            )
            for n, spec in specs.items()
        }
        return Plan(
            tuple(order),
            {n: i for i, n in enumerate(order)},
            incoming,
            nodes,
            written_only,
            specs,
            missing,
        )

    def upstream(self, node_ids: Iterable[str]) -> set[str]:
        """The nodes and all their ancestors, in one pass (GraphError for an unknown id)."""
        starts = list(node_ids)
        for node_id in starts:
            self.node(node_id)
        return self._reachable(starts, self.graph.pred)

    def descendants(self, node_id: str) -> set[str]:
        self.node(node_id)
        return self._reachable([node_id], self.graph.succ) - {node_id}

    def ancestors(self, node_id: str) -> set[str]:
        self.node(node_id)
        return self._reachable([node_id], self.graph.pred) - {node_id}

    def sinks(self) -> list[str]:
        return sorted(n for n in self.graph.nodes if self.graph.out_degree(n) == 0)

    def snapshot(self) -> PatchGraph:
        """A deep, independent copy for a worker thread (the UI keeps editing its own);
        it keeps the plan, if one is built: its shape is the same."""
        copied = PatchGraph(
            self.registry,
            copy.deepcopy(self.graph),
            copy.deepcopy(self.metadata),
            copy.deepcopy(self.backdrops),
            self.base_dir,
            self.write_consent,
            self.source_file,
        )
        copied.revision = self.revision
        cached = self._plan
        if cached is not None and cached[0] is self.graph and cached[1] == self.revision:
            copied._plan = (copied.graph, copied.revision, cached[2], cached[3])
        return copied
