"""UI tests run offscreen with pytest-qt; no model, no disk cache outside tmp."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "resources" / "images"
PATCHES = ROOT / "resources" / "patches"


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache and settings of the app under test live in tmp, never in the user's home."""
    base = tmp_path_factory.mktemp("gs-env")
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE", str(base / "cache"))
    monkeypatch.setenv("GATEWAY_STUDIO_CONFIG", str(base / "config"))


@pytest.fixture
def doc(qtbot):  # type: ignore[no-untyped-def]
    from gateway_studio.ui.document import Document

    return Document()


@pytest.fixture
def worker(qtbot) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.worker import EvalWorker

    w = EvalWorker(Evaluator(SlotCache(None)))
    yield w
    w.shutdown()


def build_scene(doc) -> None:  # type: ignore[no-untyped-def]
    """photo (scene.png) · depth (exact scene depth) → band (field.remap)."""
    doc.add_node(
        "source.image", {"path": str(IMAGES / "scene.png")}, node_id="photo", position=(0, 0)
    )
    doc.add_node(
        "depth.from_file",
        {"path": str(IMAGES / "scene_depth.png")},
        node_id="depth",
        position=(0, 240),
    )
    doc.add_node(
        "field.remap", {"band_centre": 0.35, "band_width": 0.2}, node_id="band", position=(280, 240)
    )
    doc.link("depth", "depth", "band", "source")


@pytest.fixture
def window(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    from gateway_studio.engine import Evaluator, SlotCache
    from gateway_studio.ui.main_window import MainWindow
    from gateway_studio.ui.session import Session

    w = MainWindow(
        evaluator=Evaluator(SlotCache(None)),
        session=Session(tmp_path / "config"),
        autosave_seconds=3600,
    )
    w.errors = []  # type: ignore[attr-defined]
    w.ask_save_changes = lambda: "discard"  # type: ignore[method-assign]
    w.show_error = lambda title, text: w.errors.append((title, text))  # type: ignore[method-assign,attr-defined]
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.doc.undo_stack.setClean()
    w.shutdown()


def wait_idle(qtbot, w, timeout: int = 20000) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(
        lambda: not w.controller.busy and not w.controller._timer.isActive(), timeout=timeout
    )
