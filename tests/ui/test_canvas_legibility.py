"""The canvas an artist can read: no wire under a node, text ≥ 11 px at the zoom the app
picks, nodes sized to their content, Fit with margins, the window maximised."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from qtpy.QtCore import QRectF

from gateway_studio.ui.canvas.geometry import (
    LEGIBLE_ZOOM,
    MIN_SCREEN_PX,
    PORT_PX,
    SMALL_PX,
    TITLE_PX,
)
from gateway_studio.ui.canvas.routing import Rect, hits, polyline_points, route

from .conftest import PATCHES


def _path_points(path, step: float = 3.0) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    n = max(8, int(path.length() / step))
    out = []
    for i in range(n + 1):
        p = path.pointAtPercent(path.percentAtLength(path.length() * i / n))
        out.append((p.x(), p.y()))
    return out


def _wires_under_nodes(scene) -> list[str]:  # type: ignore[no-untyped-def]
    bodies = {nid: item.scene_body() for nid, item in scene.nodes.items()}
    bad = []
    for wire in scene.wires.values():
        points = _path_points(wire.path())
        for nid, r in bodies.items():
            if hits(points, [Rect(r.left(), r.top(), r.right(), r.bottom())]):
                bad.append(f"{wire.link} under {nid}")
    return bad


def _examples() -> list[str]:
    return sorted(p.name for p in PATCHES.glob("*.json"))


@pytest.mark.parametrize("name", _examples())
def test_no_wire_passes_under_a_node_in_any_example(qtbot, doc, name: str) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.scene import NodeScene

    data = json.loads((PATCHES / name).read_text(encoding="utf-8"))
    doc.load_dict(data, None, base_dir=PATCHES)
    scene = NodeScene(doc)
    scene.reroute_all()
    assert _wires_under_nodes(scene) == [], "with the example's own positions"
    doc.auto_layout()
    scene.reroute_all()
    assert scene.wires
    assert _wires_under_nodes(scene) == [], "after auto-layout"


def test_the_motorcycle_depth_wire_goes_round_shallow_focus(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    """The issue's own case: moto.depth → fog.depth ran under 'Shallow focus'."""
    from gateway_studio.ui.canvas.scene import NodeScene

    data = json.loads((PATCHES / "motorcycle.json").read_text(encoding="utf-8"))
    doc.load_dict(data, None, base_dir=PATCHES)
    scene = NodeScene(doc)
    wire = scene.wires[("fog", "depth")]
    dof = scene.nodes["dof"].scene_body()
    # the plain bezier would cross it: the routed path does not
    from gateway_studio.ui.canvas.routing import bezier_points

    start, end = wire.src.scenePos(), wire.dst.scenePos()
    straight = bezier_points((start.x(), start.y()), (end.x(), end.y()))
    box = Rect(dof.left(), dof.top(), dof.right(), dof.bottom())
    assert hits(straight, [box])
    assert not hits(_path_points(wire.path()), [box])
    # moving the node off the wire's way gives the bezier back (a routed path has corners)
    doc.move_nodes({"dof": (300.0, -600.0)})
    scene.reroute_all()
    own = [
        Rect(r.left(), r.top(), r.right(), r.bottom())
        for r in (scene.nodes["moto"].scene_body(), scene.nodes["fog"].scene_body())
    ]
    assert route((start.x(), start.y()), (end.x(), end.y()), scene.bodies(), own) is None


def test_route_goes_round_a_box_and_keeps_its_distance() -> None:
    box = Rect(100, -50, 200, 50)
    corners = route((0.0, 0.0), (300.0, 0.0), [box])
    assert corners is not None
    points = polyline_points(corners, 2.0)
    assert not hits(points, [box.grown(10)])
    assert corners[0] == (0.0, 0.0) and corners[-1] == (300.0, 0.0)
    # orthogonal: every leg is horizontal or vertical
    for (ax, ay), (bx, by) in itertools.pairwise(corners):
        assert ax == bx or ay == by
    # a clear path stays a bezier
    assert route((0.0, 0.0), (300.0, 0.0), [Rect(100, 200, 200, 300)]) is None


def test_a_node_drag_reroutes_wires_it_now_covers(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.scene import NodeScene

    doc.add_node("source.sample", node_id="a", position=(0, 0))
    doc.add_node("field.from_point", node_id="p", position=(0, 400))
    doc.add_node("modulate.halo", node_id="h", position=(700, 0))
    doc.link("a", "image", "h", "image")
    scene = NodeScene(doc)
    assert _wires_under_nodes(scene) == []
    scene.nodes["p"].setPos(300, 0)  # dropped right on the wire
    qtbot.waitUntil(lambda: not _wires_under_nodes(scene), timeout=2000)


def test_text_is_at_least_11px_at_the_zoom_the_app_opens_with(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    assert min(TITLE_PX, PORT_PX, SMALL_PX) * LEGIBLE_ZOOM >= MIN_SCREEN_PX
    for size in ((1280, 720), (1920, 1080)):
        window.resize(*size)
        window.fit_docks()
        qtbot.wait(50)
        for name in ("motorcycle.json", "motorcycle_depth_band.json", "motorcycle_isolate.json"):
            assert window.files.open_path(PATCHES / name, ask=False)
            qtbot.wait(20)
            window._frame_and_select()
            zoom = window.view.zoom
            assert SMALL_PX * zoom >= MIN_SCREEN_PX - 1e-6, (size, name, zoom)
            final = window.scene.selected_node_ids()
            assert final, name
            # the node the viewer shows is on screen
            port = QRectF(window.view.viewport().rect())
            seen = window.view.mapFromScene(window.scene.node_item(final[0]).scene_body())
            assert port.contains(QRectF(seen.boundingRect())), (size, name)


def test_fit_frames_everything_with_a_margin(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.view import FIT_MARGIN

    window.resize(1600, 1000)
    assert window.files.open_path(PATCHES / "motorcycle_depth_band.json", ask=False)
    qtbot.wait(20)
    window.view.frame()
    port = QRectF(window.view.viewport().rect()).adjusted(
        FIT_MARGIN - 2, FIT_MARGIN - 2, -FIT_MARGIN + 2, -FIT_MARGIN + 2
    )
    for item in window.scene.nodes.values():
        seen = window.view.mapFromScene(item.scene_body()).boundingRect()
        assert port.contains(QRectF(seen)), item.node_id
    # the graph fills the view in one direction: not a thin band in the middle
    rect = window.view.mapFromScene(window.scene.items_rect()).boundingRect()
    view = window.view.viewport().rect()
    assert rect.width() > 0.8 * (view.width() - 2 * FIT_MARGIN) or rect.height() > 0.8 * (
        view.height() - 2 * FIT_MARGIN
    )


def test_nodes_are_sized_to_their_content_and_long_titles_elide(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.canvas.scene import NodeScene

    doc.add_node("modulate.isolate", node_id="iso", position=(0, 0))
    scene = NodeScene(doc)
    item = scene.nodes["iso"]
    narrow = item.width
    assert not item.title_elided()
    doc.set_title("iso", "Shallow depth of field on the rider")
    assert item.width > narrow  # the node grows for a longer title…
    doc.set_title("iso", "A title far too long to fit on any node on the canvas at all, ever")
    assert item.title_elided()  # …up to a limit, then it is elided
    assert "far too long to fit on any node" in item.toolTip()  # and whole in the tooltip
    # output ports sit on the right edge, whatever the width
    for port in item.outputs.values():
        assert math.isclose(port.pos().x(), item.width)


def test_window_opens_maximised_or_at_the_last_size(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qtpy.QtGui import QGuiApplication

    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.app import place_window
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    def make():  # type: ignore[no-untyped-def]
        w = MainWindow(
            evaluator=Evaluator(SlotCache(None)),
            session=Session(tmp_path / "config"),
            autosave_seconds=3600,
        )
        qtbot.addWidget(w)
        return w

    first = make()
    assert place_window(first, None, restore=True) == "maximised"
    area = QGuiApplication.primaryScreen().availableGeometry()
    assert first.width() >= area.width() * 0.95 and first.height() >= area.height() * 0.9
    last = (area.width() - 120, area.height() - 90)
    first.showNormal()
    first.resize(*last)
    first.close()  # saves the layout
    second = make()
    assert place_window(second, None, restore=True) == "restored"
    assert (second.width(), second.height()) == last
    second.close()
    first.shutdown()
    second.shutdown()


def test_the_node_list_shows_every_family_name_whole(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """At 1600 px a tenth of the window was too narrow for 'depth_marigold  (1)'."""
    window.resize(1600, 1000)
    window.fit_docks()
    qtbot.wait(50)
    tree = window.node_palette.tree
    metrics, step = tree.fontMetrics(), tree.indentation()
    room = tree.viewport().width()
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        assert step + metrics.horizontalAdvance(top.text(0)) < room, top.text(0)
        for j in range(top.childCount()):
            text = top.child(j).text(0)
            assert 2 * step + metrics.horizontalAdvance(text) < room, text
