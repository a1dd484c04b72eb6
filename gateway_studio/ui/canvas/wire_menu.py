"""Right-click on a wire: put a reroute dot where it was clicked, or delete the link.
Each is one undo step, through the same Document edits as a double-click (a dot) and
Delete on a selected wire."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import QPointF
from qtpy.QtWidgets import QMenu, QWidget

from gateway_studio.engine.graph import Link

from .reroute_item import insert_reroute

if TYPE_CHECKING:
    from .scene import NodeScene
    from .wire_item import WireItem


def wire_menu(scene: NodeScene, wire: WireItem, at: QPointF, parent: QWidget) -> QMenu:
    """The menu for ``wire`` right-clicked at ``at`` (scene coordinates)."""
    link = wire.link
    menu = QMenu(parent)
    menu.setObjectName("wireMenu")
    menu.setToolTipsVisible(True)
    insert = menu.addAction("Insert reroute\tdouble-click")
    insert.setToolTip("A dot here, to steer the wire")
    insert.triggered.connect(lambda: add_reroute(scene, link, at))
    delete = menu.addAction("Delete link\tDel")
    delete.setToolTip(f"Disconnect {link}")
    delete.triggered.connect(lambda: delete_link(scene, link))
    return menu


def add_reroute(scene: NodeScene, link: Link, at: QPointF) -> str | None:
    node_id = insert_reroute(scene, link, at)
    if node_id is not None:
        scene.select_nodes([node_id])
    return node_id


def delete_link(scene: NodeScene, link: Link) -> None:
    scene.doc.unlink(link.dst, link.dst_slot)
    scene.message.emit(f"deleted {link}")
