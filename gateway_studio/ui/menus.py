"""The window's actions and menus, built in one place so the menu bar reads as the app's
map: File (``FileActions``, ``Exporter``, ``BatchRenderer``, ``PatchRenderer``), Edit
(``EditActions``), Node (adding, bypass, backdrops, layout, reroutes), View (``ViewActions``:
framing, grid snapping, the minimap, the docks) and Help. Each action sets an ``act_*``
attribute on the window, which tests and other parts of the window use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QMenu

if TYPE_CHECKING:
    from .main_window import MainWindow


class ActionSlots:
    """What ``build_actions`` and ``build_menus`` set on the window (MainWindow inherits
    these declarations, so the window's actions are typed)."""

    act_backdrop: QAction
    act_batch: QAction
    act_bypass: QAction
    act_cancel: QAction
    act_copy: QAction
    act_cut: QAction
    act_delete: QAction
    act_duplicate: QAction
    act_evaluate: QAction
    act_export: QAction
    act_frame: QAction
    act_layout: QAction
    act_new: QAction
    act_open: QAction
    act_paste: QAction
    act_quit: QAction
    act_redo: QAction
    act_reroute: QAction
    act_save: QAction
    act_save_as: QAction
    act_search: QAction
    act_select_all: QAction
    act_undo: QAction
    recent_menu: QMenu
    examples_menu: QMenu


def make_action(
    w: MainWindow,
    text: str,
    slot: Any,
    shortcut: Any = None,
    *,
    tip: str = "",
    canvas_only: bool = False,
) -> QAction:
    action = QAction(text, w)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    if canvas_only:  # single keys must not fire while typing in a text field
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.view.addAction(action)
    else:
        w.addAction(action)
    return action


def build_actions(w: MainWindow) -> None:
    seq = QKeySequence.StandardKey
    files = w.files
    w.act_new = make_action(w, "&New", files.new_patch, seq.New)
    w.act_open = make_action(
        w, "&Open…", files.open_dialog, seq.Open, tip="Open a patch, or a photo as a new patch"
    )
    w.act_save = make_action(w, "&Save", files.save, seq.Save)
    w.act_save_as = make_action(w, "Save &As…", files.save_as, "Ctrl+Shift+S")
    w.act_export = make_action(
        w,
        "&Export…",
        w.exporter.dialog,
        "Ctrl+E",
        tip="Render the selected (or final) node to a file",
    )
    w.act_batch = make_action(
        w,
        "Render &batch…",
        w.batch.dialog,
        "Ctrl+Shift+R",
        tip="Render the patch over every image in a folder",
    )
    w.act_quit = make_action(w, "&Quit", w.close, seq.Quit)
    w.act_undo = w.doc.undo_stack.createUndoAction(w, "&Undo")
    w.act_undo.setShortcuts([QKeySequence("Ctrl+Z")])
    w.act_redo = w.doc.undo_stack.createRedoAction(w, "&Redo")
    w.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    w.addAction(w.act_undo)
    w.addAction(w.act_redo)
    w.act_cut = make_action(w, "Cu&t", w.edit.cut, seq.Cut, canvas_only=True)
    w.act_copy = make_action(w, "&Copy", w.edit.copy, seq.Copy, canvas_only=True)
    w.act_paste = make_action(w, "&Paste", w.edit.paste, seq.Paste, canvas_only=True)
    w.act_duplicate = make_action(w, "&Duplicate", w.edit.duplicate, "Ctrl+D", canvas_only=True)
    w.act_delete = make_action(
        w, "De&lete", w.scene.delete_selection, ["Delete", "Backspace"], canvas_only=True
    )
    w.act_select_all = make_action(
        w, "Select &all", w.edit.select_all, seq.SelectAll, canvas_only=True
    )
    w.act_bypass = make_action(w, "&Bypass selected", w.edit.toggle_bypass, "B", canvas_only=True)
    w.act_frame = make_action(w, "&Frame selected / all", w.frame, "F", canvas_only=True)
    w.act_layout = make_action(
        w,
        "Auto &layout",
        w.node_actions.auto_layout,
        "L",
        canvas_only=True,
        tip="Arrange the selected (or all) nodes by depth",
    )
    w.act_backdrop = make_action(
        w,
        "Add &backdrop",
        w.node_actions.add_backdrop,
        "Ctrl+B",
        tip="A titled frame around the selected nodes",
    )
    w.act_reroute = make_action(
        w,
        "Insert &reroute",
        w.node_actions.insert_reroute,
        tip="A dot on the selected wire, to steer it (or double-click a wire)",
    )
    w.act_search = make_action(w, "Add node…", w.open_search, None, tip="Tab on the canvas")
    w.act_search.setShortcutVisibleInContextMenu(True)
    w.act_search.setText("Add node…\tTab")
    w.act_evaluate = make_action(w, "&Re-evaluate", w.controller.evaluate_now, "F5")
    w.act_cancel = make_action(w, "&Cancel evaluation", w.escape, "Esc")


def build_menus(w: MainWindow) -> None:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    file.addActions([w.act_new, w.act_open])
    w.recent_menu = file.addMenu("Open &recent")
    w.recent_menu.aboutToShow.connect(w.files.fill_recent)
    w.examples_menu = file.addMenu("E&xamples")
    w.files.fill_examples()
    file.addSeparator()
    file.addActions([w.act_save, w.act_save_as])
    file.addSeparator()
    file.addActions([w.act_export, w.renderer.action, w.act_batch])
    file.addSeparator()
    file.addAction(w.act_quit)
    edit = bar.addMenu("&Edit")
    edit.addActions([w.act_undo, w.act_redo])
    edit.addSeparator()
    edit.addActions(
        [
            w.act_cut,
            w.act_copy,
            w.act_paste,
            w.act_duplicate,
            w.act_delete,
            w.act_select_all,
        ]
    )
    node = bar.addMenu("&Node")
    node.addActions([w.act_search, w.act_bypass, w.act_backdrop, w.act_reroute, w.act_layout])
    view = bar.addMenu("&View")
    view.addActions([w.act_frame, w.act_evaluate, w.act_cancel])
    view.addSeparator()
    view.addActions([w.view_actions.act_snap, w.view_actions.act_minimap])
    view.addSeparator()
    for dock in (w.palette_dock, w.viewer_dock, w.inspector_dock):
        view.addAction(dock.toggleViewAction())
    help_menu = bar.addMenu("&Help")
    help_menu.addAction("&About", w._about)


def context_menu(w: MainWindow, node_id: str | None, pos: QPointF) -> QMenu:
    menu = QMenu(w)
    if node_id is not None:
        menu.addAction(w.act_export)
        menu.addSeparator()
        menu.addActions([w.act_bypass, w.act_duplicate, w.act_copy, w.act_cut, w.act_delete])
        menu.addSeparator()
        menu.addActions([w.act_backdrop, w.act_layout])
    else:
        add = menu.addAction("Add node…\tTab")
        add.triggered.connect(lambda: w.open_search_at(pos))
        menu.addActions([w.act_paste, w.act_backdrop, w.act_layout, w.act_frame])
    return menu
