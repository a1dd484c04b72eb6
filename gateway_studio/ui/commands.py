"""Undo commands: every edit of a patch is one of these, pushed on the Document's stack.

Commands change the graph through the Document's ``apply_*`` methods (which emit the
signals views listen to); they never touch widgets. Each stores what it needs to undo
itself exactly: a removed node keeps its links, a connection keeps the link it replaced.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from qtpy.QtGui import QUndoCommand

from gateway_studio.engine.graph import Backdrop, Link, NodeInstance

if TYPE_CHECKING:
    from .document import Document

Point = tuple[float, float]

_SET_PARAM_ID = 1001
_MOVE_ID = 1002
#: Moves of the same nodes closer together than this merge into one undo step.
MOVE_MERGE_SECONDS = 1.5


class AddNodeCommand(QUndoCommand):
    def __init__(
        self, doc: Document, inst: NodeInstance, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__(f"Add {inst.id}", parent)
        self.doc = doc
        self.inst = copy.deepcopy(inst)

    def redo(self) -> None:
        self.doc.apply_add_node(copy.deepcopy(self.inst))

    def undo(self) -> None:
        self.doc.apply_remove_node(self.inst.id)


class RemoveNodeCommand(QUndoCommand):
    """Removes a node; undo puts it back with every link it had."""

    def __init__(self, doc: Document, node_id: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(f"Delete {node_id}", parent)
        self.doc = doc
        self.node_id = node_id
        self.inst: NodeInstance | None = None
        self.links: list[Link] = []
        self.index = 0

    def redo(self) -> None:
        self.index = self.doc.node_index(self.node_id)
        self.inst, self.links = self.doc.apply_remove_node(self.node_id)

    def undo(self) -> None:
        assert self.inst is not None
        self.doc.apply_add_node(copy.deepcopy(self.inst), self.index)
        for link in self.links:
            self.doc.apply_connect(link)


class ConnectCommand(QUndoCommand):
    """Makes a link; an input holds one link, so undo restores the one it replaced."""

    def __init__(self, doc: Document, link: Link, parent: QUndoCommand | None = None) -> None:
        super().__init__(f"Connect {link}", parent)
        self.doc = doc
        self.link = link
        self.replaced: Link | None = None

    def redo(self) -> None:
        self.replaced = self.doc.apply_connect(self.link)

    def undo(self) -> None:
        self.doc.apply_disconnect(self.link.dst, self.link.dst_slot)
        if self.replaced is not None:
            self.doc.apply_connect(self.replaced)


class DisconnectCommand(QUndoCommand):
    def __init__(
        self, doc: Document, dst: str, dst_slot: str, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__(f"Disconnect {dst}.{dst_slot}", parent)
        self.doc = doc
        self.dst, self.dst_slot = dst, dst_slot
        self.removed: Link | None = None

    def redo(self) -> None:
        self.removed = self.doc.apply_disconnect(self.dst, self.dst_slot)

    def undo(self) -> None:
        if self.removed is not None:
            self.doc.apply_connect(self.removed)


class SetParamCommand(QUndoCommand):
    """One param change. Changes with the same ``gesture`` (one slider drag) merge."""

    def __init__(
        self,
        doc: Document,
        node_id: str,
        name: str,
        old: Any,
        new: Any,
        gesture: int | None = None,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(f"Change {node_id}.{name}", parent)
        self.doc = doc
        self.node_id, self.name = node_id, name
        self.old, self.new = old, new
        self.gesture = gesture

    def id(self) -> int:
        return _SET_PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetParamCommand) or self.gesture is None:
            return False
        if (other.node_id, other.name, other.gesture) != (self.node_id, self.name, self.gesture):
            return False
        self.new = other.new
        # A drag that ends where it started leaves no step behind.
        self.setObsolete(self.new == self.old)
        return True

    def redo(self) -> None:
        self.doc.apply_set_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.doc.apply_set_param(self.node_id, self.name, self.old)


class MoveNodesCommand(QUndoCommand):
    """Moves nodes; consecutive moves of the same nodes (nudges) merge into one step."""

    def __init__(
        self,
        doc: Document,
        moves: dict[str, tuple[Point, Point]],
        parent: QUndoCommand | None = None,
    ) -> None:
        names = ", ".join(sorted(moves)[:3]) + ("…" if len(moves) > 3 else "")
        super().__init__(f"Move {names}", parent)
        self.doc = doc
        self.moves = dict(moves)
        self.stamp = time.monotonic()

    def id(self) -> int:
        return _MOVE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, MoveNodesCommand) or set(other.moves) != set(self.moves):
            return False
        if other.stamp - self.stamp > MOVE_MERGE_SECONDS:
            return False
        self.moves = {k: (self.moves[k][0], other.moves[k][1]) for k in self.moves}
        self.stamp = other.stamp
        return True

    def redo(self) -> None:
        for node_id, (_, new) in self.moves.items():
            self.doc.apply_move(node_id, new)

    def undo(self) -> None:
        for node_id, (old, _) in self.moves.items():
            self.doc.apply_move(node_id, old)


class SetBypassCommand(QUndoCommand):
    def __init__(
        self, doc: Document, node_id: str, bypass: bool, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__(f"{'Bypass' if bypass else 'Enable'} {node_id}", parent)
        self.doc = doc
        self.node_id, self.bypass = node_id, bypass

    def redo(self) -> None:
        self.doc.apply_bypass(self.node_id, self.bypass)

    def undo(self) -> None:
        self.doc.apply_bypass(self.node_id, not self.bypass)


class SetTitleCommand(QUndoCommand):
    def __init__(
        self, doc: Document, node_id: str, old: str, new: str, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__(f"Rename {node_id}", parent)
        self.doc = doc
        self.node_id, self.old, self.new = node_id, old, new

    def redo(self) -> None:
        self.doc.apply_title(self.node_id, self.new)

    def undo(self) -> None:
        self.doc.apply_title(self.node_id, self.old)


class AddBackdropCommand(QUndoCommand):
    def __init__(
        self,
        doc: Document,
        backdrop: Backdrop,
        index: int | None = None,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(f"Add backdrop {backdrop.title!r}", parent)
        self.doc = doc
        self.backdrop = copy.deepcopy(backdrop)
        self.index = len(doc.graph.backdrops) if index is None else index

    def redo(self) -> None:
        self.doc.apply_insert_backdrop(self.index, copy.deepcopy(self.backdrop))

    def undo(self) -> None:
        self.doc.apply_remove_backdrop(self.index)


class RemoveBackdropCommand(QUndoCommand):
    def __init__(self, doc: Document, index: int, parent: QUndoCommand | None = None) -> None:
        super().__init__("Delete backdrop", parent)
        self.doc = doc
        self.index = index
        self.backdrop: Backdrop | None = None

    def redo(self) -> None:
        self.backdrop = self.doc.apply_remove_backdrop(self.index)

    def undo(self) -> None:
        assert self.backdrop is not None
        self.doc.apply_insert_backdrop(self.index, copy.deepcopy(self.backdrop))


class EditBackdropCommand(QUndoCommand):
    """Moves, resizes, renames or recolours a backdrop."""

    def __init__(
        self, doc: Document, index: int, new: Backdrop, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__("Edit backdrop", parent)
        self.doc = doc
        self.index = index
        self.old = copy.deepcopy(doc.graph.backdrops[index])
        self.new = copy.deepcopy(new)

    def redo(self) -> None:
        self.doc.apply_set_backdrop(self.index, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.doc.apply_set_backdrop(self.index, copy.deepcopy(self.old))


class MacroCommand(QUndoCommand):
    """Several commands as one step: run in order, undone in reverse (paste).

    Holds its parts in a Python list rather than as Qt children, so their Python halves
    (which implement redo/undo) live exactly as long as the macro."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.parts: list[QUndoCommand] = []

    def add(self, command: QUndoCommand) -> QUndoCommand:
        self.parts.append(command)
        return command

    def redo(self) -> None:
        for part in self.parts:
            part.redo()

    def undo(self) -> None:
        for part in reversed(self.parts):
            part.undo()
