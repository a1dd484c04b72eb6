"""The kind → editor table, reset-to-default, and how slots are drawn (numpy, no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from gateway_studio.engine import Depth, Face, Faces, Field, Image, ParamSpec, PointCloud, Segments

from .conftest import build_scene


def test_every_param_kind_has_its_editor(qtbot) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui import inspector as ins

    cases = {
        ParamSpec("a", "float", 0.5, min=0.0, max=1.0, step=0.01, help="how much"): (
            ins.NumberEditor,
            0.5,
        ),
        ParamSpec("b", "int", 3, min=1, max=9): (ins.NumberEditor, 3),
        ParamSpec("c", "bool", True): (ins.BoolEditor, True),
        ParamSpec("d", "choice", "x", choices=("x", "y")): (ins.ChoiceEditor, "x"),
        ParamSpec("e", "color", "#ff8800"): (ins.ColorEditor, "#ff8800"),
        ParamSpec("f", "path", "a.png"): (ins.PathEditor, "a.png"),
        ParamSpec("g", "str", "hello"): (ins.TextEditor, "hello"),
    }
    for spec, (cls, value) in cases.items():
        editor = ins.make_editor(spec)
        qtbot.addWidget(editor)
        assert type(editor) is cls
        editor.set_value(value)
        assert editor.value() == value
    float_editor = ins.make_editor(next(iter(cases)))
    assert float_editor.toolTip() == "how much" and float_editor.slider is not None
    open_choice = ins.make_editor(ParamSpec("m", "choice", "a", choices=("a",), strict=False))
    assert open_choice.combo.isEditable()
    strict = ins.make_editor(ParamSpec("m", "choice", "a", choices=("a",)))
    assert not strict.combo.isEditable()
    log_scale = ins.make_editor(ParamSpec("s", "float", 1.0, min=1e-6, max=1e6))
    assert log_scale.log and log_scale._to_slider(1.0) == pytest.approx(500, abs=1)


def test_reset_to_default_is_one_undo_step(qtbot, doc) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.inspector import Inspector

    build_scene(doc)
    inspector = Inspector(doc)
    qtbot.addWidget(inspector)
    inspector.set_node("band")
    assert inspector.resets["band_width"].isEnabled()  # 0.2, default 0.0
    assert not inspector.resets["gamma"].isEnabled()
    inspector.resets["band_width"].click()
    assert doc.graph.node("band").params["band_width"] == 0.0
    assert inspector.editors["band_width"].value() == 0.0
    assert not inspector.resets["band_width"].isEnabled()
    doc.undo_stack.undo()
    assert doc.graph.node("band").params["band_width"] == 0.2
    assert inspector.editors["band_width"].value() == pytest.approx(0.2)


def test_depth_is_lighter_when_nearer_and_turbo_is_a_colour_map() -> None:
    from gateway_studio.ui import display

    ramp = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    gray = display.to_rgb(Depth(ramp))
    assert gray[-1, -1, 0] == 255 and gray[0, 0, 0] == 0  # 1.0 = nearest = white
    turbo = display.to_rgb(Depth(ramp), "turbo")
    assert turbo[0, 5, 2] > turbo[0, 5, 0] + 100  # far end blue
    assert turbo[-1, -1, 0] > turbo[-1, -1, 2]  # near end red
    assert "depth 1.0000" in display.readout(Depth(ramp), 7, 7)
    assert display.readout(Field(ramp), 0, 0).startswith("field 0.0000")


def test_segments_faces_and_clouds_have_pictures() -> None:
    from gateway_studio.ui import display

    labels = np.array([[0, 1], [-1, 1]], dtype=np.int32)
    seg = display.to_rgb(Segments(labels, ("sky", "tree")))
    assert (seg[0, 0] != seg[0, 1]).any() and (seg[1, 0] == display.BACKDROP).all()
    assert display.readout(Segments(labels, ("sky", "tree")), 1, 0) == "segment 1: tree"
    faces = Faces((Face((10, 10, 20, 20), 0.9, (), 0.8),), (64, 64))
    src = display.to_rgb(Image(np.full((64, 64, 3), 0.5, dtype=np.float32)))
    drawn = display.to_rgb(faces, source=src)
    assert (drawn[10, 20] != src[10, 20]).any()  # the box's top edge
    assert (drawn[40, 40] == src[40, 40]).all()  # outside the box: the photo
    pts = np.random.default_rng(0).random((500, 3)).astype(np.float32)
    cloud = display.to_rgb(PointCloud(pts, pts.copy()))
    assert cloud.shape == (512, 512, 3) and (cloud != display.BACKDROP).any()
    thumb = display.thumbnail(Image(np.zeros((900, 1800, 3), dtype=np.float32)), 180)
    assert thumb.shape == (90, 180, 3)
