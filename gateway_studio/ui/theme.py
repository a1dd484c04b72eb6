"""Colours and the dark look: one colour per slot type, one per node family."""

from __future__ import annotations

import colorsys
import hashlib

from qtpy.QtGui import QColor, QPalette
from qtpy.QtWidgets import QApplication

#: One colour per slot type, used by ports, wires and the palette.
SLOT_COLORS: dict[str, str] = {
    "Image": "#e0b54a",
    "Depth": "#4aa3e6",
    "Field": "#8fd16a",
    "Mask": "#e6e6e6",
    "Segments": "#c77ddb",
    "Faces": "#f08a5a",
    "Normals": "#5fd3c6",
    "PointCloud": "#e8699a",
    "Files": "#9a9a9a",
}

FAMILY_COLORS: dict[str, str] = {
    "sources": "#4f7a34",
    "depth": "#2c5d8a",
    "segmentation": "#6b3f7c",
    "faces": "#8a4d2c",
    "fields": "#3a6e48",
    "geometry": "#2c6c6c",
    "modulation": "#7c5a24",
    "output": "#555a60",
}

BACKGROUND = "#1d1f22"
GRID_MINOR = "#25282c"
GRID_MAJOR = "#2e3237"
NODE_BODY = "#2b2e33"
NODE_TEXT = "#e4e6ea"
SELECTED = "#f0a030"
ERROR = "#e0443c"
OK = "#5cbf6a"
MUTED = "#8a9099"


def _hashed(name: str, saturation: float, value: float) -> QColor:
    """A stable colour for a name nobody listed (third-party families and slot types)."""
    hue = int(hashlib.blake2b(name.encode(), digest_size=2).hexdigest(), 16) / 65535.0
    r, g, b = colorsys.hsv_to_rgb(hue, saturation, value)
    return QColor.fromRgbF(r, g, b)


def slot_color(type_name: str) -> QColor:
    first = type_name.split("|", 1)[0]
    if first in SLOT_COLORS:
        return QColor(SLOT_COLORS[first])
    return _hashed(first, 0.5, 0.9)


def family_color(family: str) -> QColor:
    if family in FAMILY_COLORS:
        return QColor(FAMILY_COLORS[family])
    return _hashed(family, 0.45, 0.5)


STYLESHEET = """
QMainWindow, QDockWidget { background: #232529; }
QDockWidget::title { background: #2a2d31; padding: 4px 6px; color: #c8ccd2; }
QToolTip { background: #2d3035; color: #e4e6ea; border: 1px solid #44484f; padding: 4px; }
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox {
    background: #1b1d20; border: 1px solid #3a3e44; border-radius: 3px; padding: 2px 4px;
    selection-background-color: #3d6ea8;
}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus { border-color: #5a8fd0; }
QPushButton, QToolButton {
    background: #33373d; border: 1px solid #464a51; border-radius: 3px; padding: 3px 8px;
}
QPushButton:hover, QToolButton:hover { background: #3d4249; }
QPushButton:pressed, QToolButton:pressed { background: #2a2d31; }
QToolButton:checked { background: #3d6ea8; }
QSlider::groove:horizontal { height: 4px; background: #3a3e44; border-radius: 2px; }
QSlider::sub-page:horizontal { background: #5a8fd0; border-radius: 2px; }
QSlider::handle:horizontal {
    background: #d8dbe0; width: 12px; margin: -5px 0; border-radius: 6px;
}
QTreeWidget, QListWidget { background: #1e2023; border: none; }
QTreeWidget::item:selected, QListWidget::item:selected { background: #3d6ea8; }
QProgressBar { background: #1b1d20; border: 1px solid #3a3e44; border-radius: 3px;
    text-align: center; height: 14px; }
QProgressBar::chunk { background: #5a8fd0; }
QStatusBar { background: #1b1d20; color: #b8bcc4; }
QMenu { background: #2a2d31; border: 1px solid #44484f; }
QMenu::item:selected { background: #3d6ea8; }
QMenuBar { background: #232529; }
QMenuBar::item:selected { background: #3a3e44; }
QLabel#inspectorTitle { font-size: 14px; font-weight: bold; }
QLabel#muted { color: #8a9099; }
"""


def apply_dark_theme(app: QApplication) -> None:
    """Artists' tools are dark: Fusion with a dark palette and a light stylesheet on top."""
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#232529",
        QPalette.ColorRole.WindowText: "#dfe2e6",
        QPalette.ColorRole.Base: "#1b1d20",
        QPalette.ColorRole.AlternateBase: "#26292d",
        QPalette.ColorRole.ToolTipBase: "#2d3035",
        QPalette.ColorRole.ToolTipText: "#e4e6ea",
        QPalette.ColorRole.Text: "#dfe2e6",
        QPalette.ColorRole.Button: "#33373d",
        QPalette.ColorRole.ButtonText: "#dfe2e6",
        QPalette.ColorRole.BrightText: "#ff6060",
        QPalette.ColorRole.Highlight: "#3d6ea8",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6aa8f0",
        QPalette.ColorRole.PlaceholderText: "#6d727a",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6d727a"))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
