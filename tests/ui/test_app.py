"""``gateway-studio PATCH``: the app entry point, and startup that never loads torch."""

from __future__ import annotations

import subprocess
import sys

from .conftest import PATCHES, ROOT


def test_ui_modules_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "import gateway_studio.cli, gateway_studio.ui.app, gateway_studio.ui.main_window\n"
        "from gateway_studio.engine import default_registry\n"
        "list(default_registry())\n"  # every node module, as the palette lists them
        "print(sorted(m for m in ('torch', 'transformers', 'cv2', 'scipy', 'skimage')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_main_opens_a_patch_evaluates_and_saves_a_picture(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``gateway-studio PATCH`` in its own process (offscreen), as a user starts it."""
    import os

    from PIL import Image

    shot = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway_studio",
            str(PATCHES / "depth_band.json"),
            "--no-recovery",
            "--screenshot",
            str(shot),
            "--screenshot-timeout",
            "60",
            "--window-size",
            "1280x800",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size == (1280, 800)


def test_screenshot_of_a_failing_patch_does_not_wait_for_the_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--screenshot waited for a picture in the viewer: a patch whose final node fails
    (depth.estimate without weights, a missing file) sat out the whole timeout (60 s)."""
    import json
    import os
    import time

    patch = tmp_path / "broken.json"
    patch.write_text(
        json.dumps(
            {
                "format": "gateway-studio.patch",
                "version": 1,
                "nodes": [
                    {"id": "photo", "type": "source.image", "params": {"path": "missing.png"}}
                ],
            }
        )
    )
    shot = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.monotonic()
    out = subprocess.run(
        [
            *(sys.executable, "-m", "gateway_studio", str(patch), "--no-recovery"),
            *("--screenshot", str(shot), "--screenshot-timeout", "30"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.exists()
    assert time.monotonic() - t0 < 20, out.stderr[-500:]
