"""How big a node is and how its text is set: one place for the canvas, auto-layout and
the tests.

Fonts are in *pixels* of the scene, so the size on screen is ``pixels × zoom`` whatever the
screen's DPI; the smallest text on a node is ``SMALL_PX``, and the view never frames a
patch below ``LEGIBLE_ZOOM`` on its own (``SMALL_PX × LEGIBLE_ZOOM`` ≥ 11 px on screen).
A node is as wide as its title and port names need (between ``MIN_WIDTH`` and
``MAX_WIDTH``; a longer title is elided, and the full one is in the tooltip).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from qtpy.QtGui import QFont, QFontMetricsF

from gateway_studio.engine.node import NodeSpec
from gateway_studio.ui.display import is_displayable

TITLE_PX = 15
PORT_PX = 13
SMALL_PX = 12
#: Smallest on-screen text size the canvas promises at the zoom it chooses by itself.
MIN_SCREEN_PX = 11.0
LEGIBLE_ZOOM = MIN_SCREEN_PX / SMALL_PX
MIN_WIDTH = 176.0
MAX_WIDTH = 280.0
HEADER = 30.0
ROW = 22.0
THUMB_H = 104.0
FOOTER = 20.0
PAD = 10.0
#: Room for the bypass toggle at the header's right end.
TOGGLE = 26.0
#: Space between an input name and an output name on one row.
GAP = 24.0


def font(px: int, *, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    return f


@lru_cache(maxsize=8)
def _metrics(px: int, bold: bool) -> QFontMetricsF:
    return QFontMetricsF(font(px, bold=bold))


@lru_cache(maxsize=4096)
def text_width(text: str, px: int, *, bold: bool = False) -> float:
    return _metrics(px, bold).horizontalAdvance(text)


@dataclass(frozen=True)
class NodeBox:
    """A node's size and the y of its parts (in the node's own coordinates)."""

    width: float
    height: float
    ports_top: float
    thumb_top: float
    has_picture: bool


@lru_cache(maxsize=1024)  # a big patch has thousands of nodes of a few types
def node_box(spec: NodeSpec, title: str = "") -> NodeBox:
    title = title or spec.label
    title_w = text_width(title, TITLE_PX, bold=True) + PAD + TOGGLE + 8
    ins = max((text_width(i.name, PORT_PX) for i in spec.inputs), default=0.0)
    outs = max((text_width(o.name, PORT_PX) for o in spec.outputs), default=0.0)
    ports_w = 14 + ins + GAP + outs + 14
    width = min(max(MIN_WIDTH, title_w, ports_w), MAX_WIDTH)
    width = float(round(width / 2) * 2)
    rows = max(len(spec.inputs), len(spec.outputs), 1)
    ports_top = HEADER + 6
    thumb_top = ports_top + ROW * rows + 4
    has_picture = any(is_displayable(o.type_name) for o in spec.outputs)
    height = thumb_top + (THUMB_H if has_picture else 0.0) + FOOTER + 6
    return NodeBox(width, height, ports_top, thumb_top, has_picture)
