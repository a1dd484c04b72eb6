"""Auto-layout for patches whose nodes carry no positions: columns by topological depth.

A node's column is the length of the longest path from a source to it, so every link
points right; within a column nodes are ordered by the mean row of their parents
(barycentre heuristic) to keep wires from crossing.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from gateway_studio.engine.graph import PatchGraph

COLUMN_WIDTH = 280.0
ROW_HEIGHT = 230.0


def layered_positions(
    graph: PatchGraph, only: Iterable[str] | None = None, origin: tuple[float, float] = (0, 0)
) -> dict[str, tuple[float, float]]:
    """Positions for ``only`` (default: every node), laid out among themselves."""
    ids = set(graph.graph.nodes) if only is None else set(only)
    sub = graph.graph.subgraph(ids)
    depth: dict[str, int] = {}
    for node_id in nx.lexicographical_topological_sort(sub):
        parents = list(sub.predecessors(node_id))
        depth[node_id] = 1 + max((depth[p] for p in parents), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id, d in depth.items():
        columns.setdefault(d, []).append(node_id)
    row: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for d in sorted(columns):
        members = columns[d]

        def barycentre(node_id: str) -> tuple[float, str]:
            rows = [row[p] for p in sub.predecessors(node_id) if p in row]
            return (sum(rows) / len(rows) if rows else float("inf"), node_id)

        members.sort(key=barycentre)
        for i, node_id in enumerate(members):
            row[node_id] = float(i)
            positions[node_id] = (origin[0] + d * COLUMN_WIDTH, origin[1] + i * ROW_HEIGHT)
    return positions
