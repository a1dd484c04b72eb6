"""The View menu's canvas switches: grid snapping and the minimap, remembered between runs
in the session's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtGui import QAction

if TYPE_CHECKING:
    from .main_window import MainWindow

SNAP_KEY = "snap_to_grid"
MINIMAP_KEY = "minimap"


class ViewActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.session = window.session
        self.act_snap = self._toggle("&Snap to grid", SNAP_KEY, self.set_snap)
        self.act_snap.setToolTip("Nodes you drag land on the canvas grid")
        self.act_minimap = self._toggle("&Minimap", MINIMAP_KEY, self.set_minimap)
        self.act_minimap.setToolTip("A map of the whole patch when it does not fit the view")
        self.set_snap(self.act_snap.isChecked(), remember=False)
        self.set_minimap(self.act_minimap.isChecked(), remember=False)

    def _toggle(self, text: str, key: str, slot: object) -> QAction:
        action = QAction(text, self.window)
        action.setCheckable(True)
        action.setChecked(self.session.setting(key, True))
        action.toggled.connect(slot)
        return action

    def set_snap(self, on: bool, *, remember: bool = True) -> None:
        self.window.scene.snap_to_grid = on
        if self.act_snap.isChecked() != on:
            self.act_snap.setChecked(on)
        if remember:
            self.session.set_setting(SNAP_KEY, on)

    def set_minimap(self, on: bool, *, remember: bool = True) -> None:
        minimap = self.window.view.minimap
        minimap.enabled = on
        minimap.refresh_now()
        if self.act_minimap.isChecked() != on:
            self.act_minimap.setChecked(on)
        if remember:
            self.session.set_setting(MINIMAP_KEY, on)
