"""The open patch: a PatchGraph, its file, its dirty state and its undo stack.

Views never edit the graph themselves: they call the methods here, which push undo
commands; commands call the ``apply_*`` methods, which change the graph and emit the
signals the views redraw from. The graph stays a plain engine object (no Qt in the model).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import networkx as nx
from qtpy.QtCore import QObject, Signal
from qtpy.QtGui import QUndoStack

from gateway_studio.engine.errors import GraphError
from gateway_studio.engine.graph import Backdrop, Link, NodeInstance, PatchGraph
from gateway_studio.engine.patch import load_patch, patch_from_dict, patch_to_dict, save_patch
from gateway_studio.engine.registry import Registry, default_registry

from . import commands as cmd
from .layout import ROW_HEIGHT, layered_positions

Point = tuple[float, float]
CLIPBOARD_MIME = "application/x-gateway-studio-patch"


class Document(QObject):
    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    linkAdded = Signal(object)  # Link
    linkRemoved = Signal(object)  # Link
    paramChanged = Signal(str, str, object)
    nodeMoved = Signal(str, float, float)
    bypassChanged = Signal(str, bool)
    titleChanged = Signal(str, str)
    backdropsChanged = Signal()
    #: Anything that changes what an evaluation computes (params, links, nodes, bypass).
    graphChanged = Signal()
    #: A whole new graph (new / open / recover): views rebuild.
    reset = Signal()
    pathChanged = Signal(object)
    dirtyChanged = Signal(bool)

    def __init__(self, registry: Registry | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry or default_registry()
        self.graph = PatchGraph(self.registry)
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self._recovered = False  # a recovered patch is unsaved work though its stack is clean
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # -- state --------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        return self._recovered or not self.undo_stack.isClean()

    def _on_clean_changed(self, clean: bool) -> None:
        with contextlib.suppress(RuntimeError):  # the stack is being destroyed with us
            self.dirtyChanged.emit(self._recovered or not clean)

    def to_dict(self) -> dict[str, Any]:
        return patch_to_dict(self.graph)

    def node_ids(self) -> list[str]:
        return list(self.graph.graph.nodes)

    # -- files --------------------------------------------------------------------------
    def new(self) -> None:
        self._replace(PatchGraph(self.registry), None)

    def open(self, path: str | Path) -> None:
        """Load a patch (PatchError on a bad file leaves the current patch untouched)."""
        path = Path(path)
        graph = load_patch(path, self.registry)
        self._replace(graph, path.resolve())

    def load_dict(
        self,
        data: Mapping[str, Any],
        path: Path | None = None,
        *,
        base_dir: Path | None = None,
        recovered: bool = False,
    ) -> None:
        base = base_dir if base_dir is not None else (path.parent if path else None)
        graph = patch_from_dict(dict(data), self.registry, base_dir=base)
        self._replace(graph, path, recovered=recovered)

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.path
        if target is None:
            raise GraphError("the patch has no file yet: choose where to save it")
        target = target.resolve()
        old_base = self.graph.base_dir
        old_params = {n.id: dict(n.params) for n in self.graph.nodes()}
        try:
            if old_base is not None and target.parent != old_base:
                self._rebase_paths(old_base, target.parent)
            self.graph.base_dir = target.parent
            save_patch(self.graph, target)
        except BaseException:
            # not written: file params and base folder stay as they were (a failed Save As
            # left them pointing from a folder the patch never went to)
            self.graph.base_dir = old_base
            for node_id, params in old_params.items():
                self.graph.node(node_id).params = params
            raise
        for inst in self.graph.nodes():  # the inspector shows the rebased file params
            for name, value in inst.params.items():
                if old_params[inst.id].get(name) != value:
                    self.paramChanged.emit(inst.id, name, value)
        changed = target != self.path
        self.path = target
        self._recovered = False
        self.undo_stack.setClean()
        self.dirtyChanged.emit(False)
        if changed:
            self.pathChanged.emit(target)
        return target

    def _rebase_paths(self, old: Path, new: Path) -> None:
        """Save As into another folder: keep relative path params pointing at the same files."""
        import os

        for inst in self.graph.nodes():
            for p in self.graph.spec(inst.id).params:
                value = inst.params.get(p.name)
                if p.kind == "path" and value and not Path(value).expanduser().is_absolute():
                    target = (old / value).resolve()
                    if Path(os.path.commonpath([target, new])) == Path(new.anchor):
                        # nothing shared but the root: '../../../../work/…' helps nobody
                        inst.params[p.name] = target.as_posix()
                    else:
                        inst.params[p.name] = Path(os.path.relpath(target, new)).as_posix()

    def _replace(self, graph: PatchGraph, path: Path | None, *, recovered: bool = False) -> None:
        missing = [n.id for n in graph.nodes() if n.position is None]
        if missing:
            placed = {n.id for n in graph.nodes() if n.position is not None}
            origin = (0.0, 0.0)
            if placed:
                xs = [graph.node(i).position[0] for i in placed]  # type: ignore[index]
                ys = [graph.node(i).position[1] for i in placed]  # type: ignore[index]
                origin = (min(xs), max(ys) + ROW_HEIGHT)
            for node_id, pos in layered_positions(graph, missing, origin).items():
                graph.node(node_id).position = pos
        self.graph = graph
        self.path = path
        self._recovered = recovered
        self.undo_stack.clear()
        self.undo_stack.setClean()
        self.reset.emit()
        self.pathChanged.emit(path)
        self.dirtyChanged.emit(self.dirty)
        self.graphChanged.emit()

    # -- edits (each one undo step) -----------------------------------------------------
    def add_node(
        self,
        type_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        position: Point | None = None,
        node_id: str | None = None,
    ) -> str:
        scratch = PatchGraph(self.registry)  # validates type and params before pushing
        if position is not None:
            position = (float(position[0]), float(position[1]))
        inst = scratch.add_node(
            type_id, params, node_id=node_id or self.graph.new_id(type_id), position=position
        )
        if inst.id in self.graph:
            raise GraphError(f"a node with id '{inst.id}' already exists")
        self.undo_stack.push(cmd.AddNodeCommand(self, inst))
        return inst.id

    @contextmanager
    def macro(self, text: str) -> Iterator[None]:
        """Group the edits inside into one undo step; the macro is closed even if an edit
        raises, so the stack never stays inside an open macro."""
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()

    def remove_nodes(self, node_ids: Iterable[str]) -> None:
        ids = [n for n in node_ids if n in self.graph]
        if not ids:
            return
        with self.macro(f"Delete {', '.join(ids[:3])}{'…' if len(ids) > 3 else ''}"):
            for node_id in ids:
                self.undo_stack.push(cmd.RemoveNodeCommand(self, node_id))

    def move_nodes(self, moves: Mapping[str, Point]) -> None:
        changes: dict[str, tuple[Point, Point]] = {}
        for node_id, new in moves.items():
            old = self.graph.node(node_id).position or (0.0, 0.0)
            if (round(old[0], 3), round(old[1], 3)) != (round(new[0], 3), round(new[1], 3)):
                changes[node_id] = (old, (float(new[0]), float(new[1])))
        if changes:
            self.undo_stack.push(cmd.MoveNodesCommand(self, changes))

    def check_link(self, link: Link) -> None:
        """Raise GraphError saying why ``link`` may not be made."""
        self.graph.check_link(link)

    def link(self, src: str, src_slot: str, dst: str, dst_slot: str) -> Link:
        link = Link(src, src_slot, dst, dst_slot)
        self.graph.check_link(link)
        if self.graph.incoming(dst).get(dst_slot) == (src, src_slot):
            return link  # already connected: no empty undo step
        self.undo_stack.push(cmd.ConnectCommand(self, link))
        return link

    def unlink(self, dst: str, dst_slot: str) -> None:
        if dst_slot in self.graph.incoming(dst):
            self.undo_stack.push(cmd.DisconnectCommand(self, dst, dst_slot))

    def set_param(self, node_id: str, name: str, value: Any, *, gesture: int | None = None) -> None:
        spec = self.graph.spec(node_id)
        pspec = spec.param(name)
        if pspec is None:
            raise GraphError(f"{node_id}: {spec.type_id} has no param '{name}'")
        try:
            value = pspec.validate(value)
        except Exception as exc:
            raise GraphError(f"{node_id}.{name}: {exc}") from None
        old = self.graph.node(node_id).params.get(name)
        if old == value:
            return
        self.undo_stack.push(cmd.SetParamCommand(self, node_id, name, old, value, gesture))

    def set_bypass(self, node_id: str, bypass: bool) -> None:
        if self.graph.node(node_id).bypass != bypass:
            self.undo_stack.push(cmd.SetBypassCommand(self, node_id, bypass))

    def set_title(self, node_id: str, title: str) -> None:
        old = self.graph.node(node_id).title
        if old != title:
            self.undo_stack.push(cmd.SetTitleCommand(self, node_id, old, title))

    def add_backdrop(
        self, title: str, rect: tuple[float, float, float, float], color: str = "#3a4a5a"
    ) -> int:
        self.undo_stack.push(cmd.AddBackdropCommand(self, Backdrop(title, rect, color)))
        return len(self.graph.backdrops) - 1

    def remove_backdrop(self, index: int) -> None:
        self.undo_stack.push(cmd.RemoveBackdropCommand(self, index))

    def edit_backdrop(self, index: int, backdrop: Backdrop) -> None:
        self.undo_stack.push(cmd.EditBackdropCommand(self, index, backdrop))

    def move_backdrop(self, index: int, dx: float, dy: float, node_ids: Iterable[str]) -> None:
        """Move a backdrop and the nodes on it as one step."""
        old = self.graph.backdrops[index]
        x, y, w, h = old.rect
        with self.macro("Move backdrop"):
            self.edit_backdrop(index, Backdrop(old.title, (x + dx, y + dy, w, h), old.color))
            moves = {}
            for node_id in node_ids:
                px, py = self.graph.node(node_id).position or (0.0, 0.0)
                moves[node_id] = (px + dx, py + dy)
            self.move_nodes(moves)

    def auto_layout(self, node_ids: Iterable[str] | None = None) -> None:
        ids = list(node_ids) if node_ids is not None else self.node_ids()
        if not ids:
            return
        xs = [(self.graph.node(i).position or (0.0, 0.0)) for i in ids]
        origin = (min(p[0] for p in xs), min(p[1] for p in xs))
        self.move_nodes(layered_positions(self.graph, ids, origin))

    # -- clipboard ----------------------------------------------------------------------
    def copy_nodes(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """The selection and the links between its nodes, as patch JSON data.

        Relative file params become absolute, so a paste into another patch (or another
        window) still finds the files."""
        ids = [n for n in node_ids if n in self.graph]
        sub = PatchGraph(self.registry, base_dir=self.graph.base_dir)
        for node_id in ids:
            inst = self.graph.node(node_id)
            params = dict(inst.params)
            for p in self.graph.spec(node_id).params:
                value = params.get(p.name)
                if p.kind == "path" and value and self.graph.base_dir is not None:
                    path = Path(value).expanduser()
                    if not path.is_absolute():
                        params[p.name] = str((self.graph.base_dir / path).resolve())
            sub.add_node(
                inst.type_id,
                params,
                node_id=node_id,
                position=inst.position,
                bypass=inst.bypass,
                title=inst.title,
            )
        for link in self.graph.links():
            if link.src in sub and link.dst in sub:
                sub.connect(link)
        return patch_to_dict(sub)

    def paste(
        self, data: Mapping[str, Any], *, at: Point | None = None, offset: Point = (40.0, 40.0)
    ) -> list[str]:
        """Add the nodes of patch data with fresh ids (one undo step); returns the new ids.

        ``at`` puts the pasted group's top-left there; otherwise it lands ``offset`` from
        where it was copied."""
        # validates before any edit; not-a-mapping (5, [..], null) is a PatchError there
        sub = patch_from_dict(dict(data) if isinstance(data, Mapping) else data, self.registry)
        if len(sub) == 0:
            return []
        positions = [n.position or (0.0, 0.0) for n in sub.nodes()]
        left, top = min(p[0] for p in positions), min(p[1] for p in positions)
        dx, dy = (at[0] - left, at[1] - top) if at is not None else offset
        taken = set(self.graph.graph.nodes)
        renamed: dict[str, str] = {}
        parent = cmd.MacroCommand(f"Paste {len(sub)} node(s)")
        for inst in sub.nodes():
            new_id = inst.id if inst.id not in taken else _fresh_id(inst.id, taken)
            taken.add(new_id)
            renamed[inst.id] = new_id
            x, y = inst.position or (0.0, 0.0)
            clone = NodeInstance(
                new_id, inst.type_id, dict(inst.params), (x + dx, y + dy), inst.bypass, inst.title
            )
            parent.add(cmd.AddNodeCommand(self, clone))
        for link in sub.links():
            parent.add(
                cmd.ConnectCommand(
                    self, Link(renamed[link.src], link.src_slot, renamed[link.dst], link.dst_slot)
                )
            )
        self.undo_stack.push(parent)
        return list(renamed.values())

    def duplicate(self, node_ids: Iterable[str]) -> list[str]:
        return self.paste(self.copy_nodes(node_ids))

    # -- the only places the graph changes (called by commands) -------------------------
    def apply_add_node(self, inst: NodeInstance, index: int | None = None) -> None:
        self.graph.add_node(
            inst.type_id,
            inst.params,
            node_id=inst.id,
            position=inst.position,
            bypass=inst.bypass,
            title=inst.title,
        )
        if index is not None and index < len(self.graph) - 1:
            self._reorder(inst.id, index)
        self.nodeAdded.emit(inst.id)
        self.graphChanged.emit()

    def _reorder(self, node_id: str, index: int) -> None:
        """Put a re-added node back at its place, so undo restores the file's node order."""
        old = self.graph.graph
        order = [n for n in old.nodes if n != node_id]
        order.insert(index, node_id)
        fresh = nx.DiGraph()
        fresh.add_nodes_from((n, old.nodes[n]) for n in order)
        fresh.add_edges_from(old.edges(data=True))
        self.graph.graph = fresh

    def node_index(self, node_id: str) -> int:
        return list(self.graph.graph.nodes).index(node_id)

    def apply_remove_node(self, node_id: str) -> tuple[NodeInstance, list[Link]]:
        inst = copy.deepcopy(self.graph.node(node_id))
        links = [lk for lk in self.graph.links() if node_id in (lk.src, lk.dst)]
        for link in links:
            self.graph.disconnect(link.dst, link.dst_slot)
            self.linkRemoved.emit(link)
        self.graph.remove_node(node_id)
        self.nodeRemoved.emit(node_id)
        self.graphChanged.emit()
        return inst, links

    def apply_connect(self, link: Link) -> Link | None:
        previous = self.graph.connect(link)
        if previous is not None:
            self.linkRemoved.emit(previous)
        self.linkAdded.emit(link)
        self.graphChanged.emit()
        return previous

    def apply_disconnect(self, dst: str, dst_slot: str) -> Link | None:
        removed = self.graph.disconnect(dst, dst_slot)
        if removed is not None:
            self.linkRemoved.emit(removed)
            self.graphChanged.emit()
        return removed

    def apply_set_param(self, node_id: str, name: str, value: Any) -> None:
        self.graph.set_param(node_id, name, value)
        self.paramChanged.emit(node_id, name, value)
        self.graphChanged.emit()

    def apply_move(self, node_id: str, position: Point) -> None:
        self.graph.node(node_id).position = (float(position[0]), float(position[1]))
        self.nodeMoved.emit(node_id, float(position[0]), float(position[1]))

    def apply_bypass(self, node_id: str, bypass: bool) -> None:
        self.graph.node(node_id).bypass = bypass
        self.bypassChanged.emit(node_id, bypass)
        self.graphChanged.emit()

    def apply_title(self, node_id: str, title: str) -> None:
        self.graph.node(node_id).title = title
        self.titleChanged.emit(node_id, title)

    def apply_insert_backdrop(self, index: int, backdrop: Backdrop) -> None:
        self.graph.backdrops.insert(index, backdrop)
        self.backdropsChanged.emit()

    def apply_remove_backdrop(self, index: int) -> Backdrop:
        removed = self.graph.backdrops.pop(index)
        self.backdropsChanged.emit()
        return removed

    def apply_set_backdrop(self, index: int, backdrop: Backdrop) -> None:
        self.graph.backdrops[index] = backdrop
        self.backdropsChanged.emit()


def _fresh_id(base: str, taken: set[str]) -> str:
    stem = base.rstrip("0123456789") or base
    n = 2
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"
