"""Model libraries are imported in the background, one module at a time, only while idle."""

from __future__ import annotations

import gc
import sys

import pytest

from .conftest import build_scene, wait_idle


@pytest.fixture
def fake_modules(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Two tiny importable modules standing in for torch / transformers (no 1.5 s import)."""
    names = ["gs_warm_fake_a", "gs_warm_fake_b"]
    for name in names:
        (tmp_path / f"{name}.py").write_text("import time\ntime.sleep(0.05)\nLOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield names
    for name in names:
        sys.modules.pop(name, None)
    gc.unfreeze()  # the importer froze the heap; do not change GC for the rest of the run


def test_warm_import_waits_for_idle_then_imports_in_order(qtbot, fake_modules) -> None:  # type: ignore[no-untyped-def]
    from gateway_studio.ui.warmup import WarmImporter

    busy = {"on": True}
    warm = WarmImporter(lambda: not busy["on"], fake_modules)
    started: list[str] = []
    finished: list[tuple[float, str]] = []
    warm.started.connect(lambda name, i, n: started.append(name))
    warm.finished.connect(lambda s, e: finished.append((s, e)))
    warm.start()
    qtbot.wait(1000)  # busy (an evaluation or a drag): nothing may be imported
    assert started == [] and not any(m in sys.modules for m in fake_modules)
    busy["on"] = False
    qtbot.waitUntil(lambda: bool(finished), timeout=10000)
    assert started == fake_modules
    assert all(m in sys.modules for m in fake_modules)
    seconds, error = finished[0]
    assert error == "" and seconds >= 0.09
    # imports ran with the collector off, then froze what they loaded: later full
    # collections (~270 ms over torch's objects, GIL held) skip it
    assert gc.isenabled() and gc.get_freeze_count() > 0


def test_window_says_it_is_loading_model_libraries(qtbot, window, fake_modules) -> None:  # type: ignore[no-untyped-def]
    w = window
    build_scene(w.doc)
    wait_idle(qtbot, w)
    texts: list[str] = []
    warm = w.start_warm_imports(fake_modules)
    warm.started.connect(lambda *_: texts.append(w.warm_label.text()))
    qtbot.waitUntil(lambda: warm.done, timeout=10000)
    assert texts and texts[0].startswith("loading model libraries…")
    assert w.warm_label.text().startswith("model libraries ready")


def test_a_missing_library_is_reported_not_raised(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    warm = window.start_warm_imports(["gs_no_such_module_anywhere"])
    qtbot.waitUntil(lambda: warm.done, timeout=10000)
    assert window.warm_label.text() == "model libraries unavailable"
    assert "gs_no_such_module_anywhere" in window.warm_label.toolTip()
