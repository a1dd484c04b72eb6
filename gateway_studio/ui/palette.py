"""The node palette (searchable, by family; double-click or drag to add) and the Tab
search popup that adds a node at the cursor."""

from __future__ import annotations

from qtpy.QtCore import QMimeData, QPoint, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QDrag, QGuiApplication, QKeyEvent, QPixmap
from qtpy.QtWidgets import (
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gateway_studio.engine.node import NodeSpec
from gateway_studio.engine.registry import Registry

from .canvas.view import NODE_MIME
from .search import keywords, ranked, score
from .theme import family_color

_TYPE_ROLE = Qt.ItemDataRole.UserRole
POPUP_WIDTH = 320
MAX_ROWS = 14


def describe(spec: NodeSpec) -> str:
    ins = ", ".join(f"{i.name}: {i.type_name}" for i in spec.inputs) or "—"
    outs = ", ".join(f"{o.name}: {o.type_name}" for o in spec.outputs) or "—"
    words = keywords(spec)
    also = f"<br><span style='color:#9aa0a8'>also: {', '.join(words)}</span>" if words else ""
    return f"<b>{spec.label}</b> ({spec.type_id})<br>{spec.help}<br><i>{ins} → {outs}</i>{also}"


def matches(spec: NodeSpec, text: str) -> bool:
    return score(spec, text) > 0


class _Tree(QTreeWidget):
    #: Enter on the current entry (not itemActivated: it also fires on the double-click
    #: that already adds, which would add the node twice)
    enterPressed = Signal(QTreeWidgetItem)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
            self.enterPressed.emit(item)
            return
        super().keyPressEvent(event)

    def startDrag(self, actions) -> None:  # type: ignore[no-untyped-def]
        item = self.currentItem()
        type_id = item.data(0, _TYPE_ROLE) if item is not None else None
        if not type_id:
            return
        mime = QMimeData()
        mime.setData(NODE_MIME, type_id.encode("utf-8"))
        drag = QDrag(self)
        drag.setMimeData(mime)
        pix = QPixmap(140, 24)
        pix.fill(QColor("#3d6ea8"))
        drag.setPixmap(pix)
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    addRequested = Signal(str)

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.tree = _Tree()
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setIndentation(12)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        self.search.textChanged.connect(self._filter)
        self.tree.itemDoubleClicked.connect(self._activated)
        # Enter adds too: in the search box the first match, in the list the current entry
        self.search.returnPressed.connect(self._add_first_match)
        self.tree.enterPressed.connect(lambda item: self._activated(item, 0))
        self.populate()

    def visible_type_ids(self) -> list[str]:
        ids = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top.isHidden():
                continue
            for j in range(top.childCount()):
                child = top.child(j)
                if not child.isHidden():
                    ids.append(child.data(0, _TYPE_ROLE))
        return ids

    def _add_first_match(self) -> None:
        """Enter in the search box adds the best match (not the first in family order)."""
        text = self.search.text()
        best = ranked(self.registry, text) if text.strip() else []
        if best:
            self.addRequested.emit(best[0].type_id)

    def needed_width(self) -> int:
        """The width that shows every family and node name whole (nothing elided)."""
        tree = self.tree
        metrics = tree.fontMetrics()
        step = tree.indentation()
        widest = 0.0
        for i in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(i)
            widest = max(widest, step + metrics.horizontalAdvance(top.text(0)))
            for j in range(top.childCount()):
                text = top.child(j).text(0)
                widest = max(widest, 2 * step + metrics.horizontalAdvance(text))
        scrollbar = tree.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        margins = self.layout().contentsMargins()
        frame = 2 * tree.frameWidth() + margins.left() + margins.right()
        return int(widest) + scrollbar + frame + 16  # 16: the item's own padding

    #: Families listed folded: reroute dots go on wires (double-click one), not from here.
    FOLDED = frozenset({"util"})

    def populate(self) -> None:
        self.tree.clear()
        for family, specs in self.registry.families().items():
            top = QTreeWidgetItem([f"{family}  ({len(specs)})"])
            top.setForeground(0, QBrush(family_color(family).lighter(170)))
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(top)
            for spec in specs:
                child = QTreeWidgetItem([spec.label])
                child.setData(0, _TYPE_ROLE, spec.type_id)
                child.setToolTip(0, describe(spec))
                child.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                top.addChild(child)
            top.setData(0, _TYPE_ROLE, "")
            top.setExpanded(family not in self.FOLDED)

    def _filter(self, text: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            shown = 0
            for j in range(top.childCount()):
                child = top.child(j)
                spec = self.registry.get(child.data(0, _TYPE_ROLE))
                visible = matches(spec, text)
                child.setHidden(not visible)
                shown += visible
            top.setHidden(shown == 0)
            family = top.text(0).split()[0]
            top.setExpanded(bool(text.strip()) or family not in self.FOLDED)

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, _TYPE_ROLE)
        if type_id:
            self.addRequested.emit(type_id)


class NodeSearchPopup(QFrame):
    """Tab on the canvas: type a few letters, Enter adds the node where the cursor was."""

    chosen = Signal(str)

    def __init__(self, registry: Registry, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.registry = registry
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("NodeSearchPopup { background: #2a2d31; border: 1px solid #5a8fd0; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.line = QLineEdit()
        self.line.setPlaceholderText("Add node…")
        self.list = QListWidget()
        layout.addWidget(self.line)
        layout.addWidget(self.list)
        self.resize(POPUP_WIDTH, 320)
        self.line.textChanged.connect(self._refill)
        self.line.returnPressed.connect(self._accept)
        self.list.itemActivated.connect(lambda _item: self._accept())
        self.line.installEventFilter(self)
        self._refill("")

    def _refill(self, text: str) -> None:
        self.list.clear()
        specs = (
            ranked(self.registry, text)
            if text.strip()
            else sorted(self.registry, key=lambda s: (s.family, s.label))
        )
        for spec in specs:
            item = QListWidgetItem(f"{spec.label}    ·  {spec.type_id}")
            item.setData(_TYPE_ROLE, spec.type_id)
            item.setToolTip(describe(spec))
            item.setForeground(QBrush(family_color(spec.family).lighter(180)))
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        self._fit()

    def _fit(self) -> None:
        """As tall as the matches (a few letters leave one or two: no big empty box)."""
        rows = min(max(self.list.count(), 1), MAX_ROWS)
        row_h = self.list.sizeHintForRow(0) if self.list.count() else 20
        frame = 2 * self.list.frameWidth()
        self.list.setFixedHeight(rows * max(row_h, 16) + frame + 2)
        self.adjustSize()
        self.resize(POPUP_WIDTH, self.sizeHint().height())
        self._keep_on_screen()

    def _keep_on_screen(self) -> None:
        screen = QGuiApplication.screenAt(self.pos()) or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        x = min(max(self.x(), area.left()), area.right() - self.width())
        y = min(max(self.y(), area.top()), area.bottom() - self.height())
        if (x, y) != (self.x(), self.y()):
            self.move(x, y)

    def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]
        if (
            obj is self.line
            and isinstance(event, QKeyEvent)
            and event.type() == event.Type.KeyPress
        ):
            if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                row = self.list.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
                self.list.setCurrentRow(max(0, min(row, self.list.count() - 1)))
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(obj, event)

    def _accept(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            type_id = item.data(_TYPE_ROLE)
            self.close()
            self.chosen.emit(type_id)

    def popup_at(self, global_pos: QPoint) -> None:
        self.move(global_pos)
        self.line.clear()
        self._refill("")
        self.show()
        self._keep_on_screen()  # Tab near the screen's edge: the whole list stays visible
        self.line.setFocus()
