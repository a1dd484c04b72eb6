"""A directed graph in plain dicts: the part of ``networkx.DiGraph`` the patch graph uses.

Importing networkx costs more than a cached command-line render may take (~115 ms for
its algorithm modules), and the engine needs only a handful of operations on a graph
of tens of nodes, so ``PatchGraph`` stores its nodes and links in this class. Its
methods are networkx's, with networkx's meaning, so code written against
``networkx.DiGraph`` (the app's undo of a removal rebuilds one) works on either:

* ``nodes`` iterates node ids in insertion order; ``nodes[n]`` is n's attribute dict;
* ``edges(data=True)`` yields ``(u, v, attributes)``; ``edges[u, v]`` is one edge's dict;
* ``pred[n]`` / ``succ[n]`` map neighbours to edge attributes;
* ``subgraph(ids)`` is a ``networkx.DiGraph`` copy, for networkx's algorithms (the
  app's layout); only it imports networkx.

Graph algorithms the engine needs (run order, reachability, cycles) live in
``graph.py`` on top of ``pred`` and ``succ``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

Attrs = dict[str, Any]


class NodesView(Mapping[str, Attrs]):
    """``graph.nodes``: node ids in insertion order; ``nodes[n]`` is n's attribute dict."""

    def __init__(self, node: dict[str, Attrs]) -> None:
        self._node = node

    def __getitem__(self, n: str) -> Attrs:
        return self._node[n]

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def __contains__(self, n: object) -> bool:
        return n in self._node


class EdgesView:
    """``graph.edges``: ``edges()`` / ``edges(data=True)`` iterate, ``edges[u, v]`` is a dict."""

    def __init__(self, succ: dict[str, dict[str, Attrs]]) -> None:
        self._succ = succ

    def __call__(self, data: bool = False) -> Iterator[tuple[Any, ...]]:
        for u, nbrs in self._succ.items():
            for v, attrs in nbrs.items():
                yield (u, v, attrs) if data else (u, v)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self()

    def __getitem__(self, uv: tuple[str, str]) -> Attrs:
        u, v = uv
        return self._succ[u][v]

    def __len__(self) -> int:
        return sum(len(nbrs) for nbrs in self._succ.values())


class Digraph:
    """Nodes with attribute dicts and at most one edge (with its dict) per ordered pair."""

    def __init__(self) -> None:
        self._node: dict[str, Attrs] = {}
        self._succ: dict[str, dict[str, Attrs]] = {}
        self._pred: dict[str, dict[str, Attrs]] = {}
        #: Views of the dicts above (made once: they only hold a reference).
        self.nodes = NodesView(self._node)
        self.edges = EdgesView(self._succ)

    # -- views ----------------------------------------------------------------------------

    @property
    def succ(self) -> Mapping[str, Mapping[str, Attrs]]:
        return self._succ

    @property
    def pred(self) -> Mapping[str, Mapping[str, Attrs]]:
        return self._pred

    def __contains__(self, n: object) -> bool:
        try:
            return n in self._node
        except TypeError:  # unhashable: not a node (as in networkx)
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)

    def number_of_nodes(self) -> int:
        return len(self._node)

    def number_of_edges(self) -> int:
        return len(self.edges)

    def has_node(self, n: str) -> bool:
        return n in self

    def has_edge(self, u: str, v: str) -> bool:
        return v in self._succ.get(u, {})

    def successors(self, n: str) -> Iterator[str]:
        return iter(self._succ[n])

    def predecessors(self, n: str) -> Iterator[str]:
        return iter(self._pred[n])

    def out_degree(self, n: str) -> int:
        return len(self._succ[n])

    def in_degree(self, n: str) -> int:
        return len(self._pred[n])

    def in_edges(self, n: str, data: bool = False) -> Iterator[tuple[Any, ...]]:
        """The edges into ``n`` (none for a node that is not in the graph)."""
        for u, attrs in self._pred.get(n, {}).items():
            yield (u, n, attrs) if data else (u, n)

    def out_edges(self, n: str, data: bool = False) -> Iterator[tuple[Any, ...]]:
        for v, attrs in self._succ.get(n, {}).items():
            yield (n, v, attrs) if data else (n, v)

    # -- edits ----------------------------------------------------------------------------
    def add_node(self, n: str, **attr: Any) -> None:
        if n not in self._node:
            self._node[n] = {}
            self._succ[n] = {}
            self._pred[n] = {}
        self._node[n].update(attr)

    def add_nodes_from(self, nodes: Iterable[Any]) -> None:
        """Node ids, or ``(id, attribute dict)`` pairs."""
        for item in nodes:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
                self.add_node(item[0], **item[1])
            else:
                self.add_node(item)

    def remove_node(self, n: str) -> None:
        if n not in self._node:
            raise KeyError(f"the node {n!r} is not in the graph")
        for v in self._succ.pop(n):
            del self._pred[v][n]
        for u in self._pred.pop(n):
            del self._succ[u][n]
        del self._node[n]

    def add_edge(self, u: str, v: str, **attr: Any) -> None:
        """Add (or update) the edge u → v, adding either node if it is new."""
        for n in (u, v):
            if n not in self._node:
                self.add_node(n)
        attrs = self._succ[u].get(v)
        if attrs is None:
            attrs = {}
            self._succ[u][v] = attrs
            self._pred[v][u] = attrs
        attrs.update(attr)

    def add_edges_from(self, edges: Iterable[tuple[Any, ...]]) -> None:
        """``(u, v)`` or ``(u, v, attribute dict)`` triples."""
        for edge in edges:
            self.add_edge(edge[0], edge[1], **(edge[2] if len(edge) > 2 else {}))

    def remove_edge(self, u: str, v: str) -> None:
        try:
            del self._succ[u][v]
            del self._pred[v][u]
        except KeyError:
            raise KeyError(f"the edge {u!r} → {v!r} is not in the graph") from None

    # -- copies ---------------------------------------------------------------------------
    def copy(self) -> Digraph:
        """Nodes and edges with copies of their attribute dicts (values shared)."""
        out = Digraph()
        out.add_nodes_from((n, dict(attrs)) for n, attrs in self._node.items())
        out.add_edges_from((u, v, dict(attrs)) for u, v, attrs in self.edges(data=True))
        return out

    def subgraph(self, nodes: Iterable[str]) -> Any:
        """The nodes (those in the graph) and the edges among them, as a
        ``networkx.DiGraph``, for networkx's algorithms."""
        import networkx as nx

        keep = {n for n in nodes if n in self}
        sub = nx.DiGraph()
        sub.add_nodes_from((n, self._node[n]) for n in self._node if n in keep)
        sub.add_edges_from(
            (u, v, attrs) for u, v, attrs in self.edges(data=True) if u in keep and v in keep
        )
        return sub
