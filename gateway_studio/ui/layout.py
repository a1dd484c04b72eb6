"""Auto-layout for patches whose nodes carry no positions: columns by topological depth.

A node's column is the length of the longest path from a source to it, so every link
points right; within a column nodes are ordered by the mean row of their parents
(barycentre heuristic) to keep wires from crossing, and each sits level with its parents
where the column leaves room. Columns are as wide as their widest node (nodes are sized
to their content), plus a gap wires can route through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from gateway_studio.engine.graph import PatchGraph

#: Gap between columns, and between nodes in a column.
COLUMN_GAP = 90.0
ROW_GAP = 40.0
#: Below the placed nodes, where nodes without positions go.
ROW_HEIGHT = 240.0
Size = tuple[float, float]


def content_size(graph: PatchGraph) -> Callable[[str], Size]:
    from .canvas.geometry import node_box
    from .canvas.reroute_item import SIZE, is_reroute

    def size(node_id: str) -> Size:
        if is_reroute(graph.spec(node_id).type_id):
            return SIZE, SIZE  # a dot, not a node box
        box = node_box(graph.spec(node_id), graph.node(node_id).title)
        return box.width, box.height

    return size


def layered_positions(
    graph: PatchGraph,
    only: Iterable[str] | None = None,
    origin: tuple[float, float] = (0, 0),
    size_of: Callable[[str], Size] | None = None,
) -> dict[str, tuple[float, float]]:
    """Positions for ``only`` (default: every node), laid out among themselves."""
    size = size_of or content_size(graph)
    ids = set(graph.graph.nodes) if only is None else set(only)
    sub = graph.graph.subgraph(ids)
    depth: dict[str, int] = {}
    for node_id in nx.lexicographical_topological_sort(sub):
        parents = list(sub.predecessors(node_id))
        depth[node_id] = 1 + max((depth[p] for p in parents), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id, d in depth.items():
        columns.setdefault(d, []).append(node_id)
    positions: dict[str, tuple[float, float]] = {}
    x = origin[0]
    for d in sorted(columns):
        members = columns[d]

        def barycentre(node_id: str) -> tuple[float, str]:
            ys = [positions[p][1] for p in sub.predecessors(node_id) if p in positions]
            return (sum(ys) / len(ys) if ys else float("inf"), node_id)

        members.sort(key=barycentre)
        y = origin[1]
        for node_id in members:
            wanted = barycentre(node_id)[0]
            y = max(y, wanted) if wanted != float("inf") else y
            positions[node_id] = (x, y)
            y += size(node_id)[1] + ROW_GAP
        x += max(size(n)[0] for n in members) + COLUMN_GAP
    return positions
