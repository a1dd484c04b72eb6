"""Under a real X server (Xvfb, Qt's xcb platform): open an example, let it evaluate,
save a picture of the window into tmp and probe its pixels.

The README's ``docs/screenshot.png`` is refreshed only on request
(``GATEWAY_STUDIO_UPDATE_DOCS=1``), so a test run never rewrites a tracked file."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import PATCHES, ROOT

pytestmark = pytest.mark.xvfb
EXAMPLE = PATCHES / "motorcycle.json"  # the README picture: a real photo
WINDOW = "1760x1040"


@pytest.fixture
def xvfb_display():  # type: ignore[no-untyped-def]
    if shutil.which("Xvfb") is None:
        pytest.skip(
            "Xvfb is not installed (apt-get install xvfb libxcb-icccm4 "
            "libxcb-keysyms1; .ci/run does it)"
        )
    display = f":{random.randint(200, 900)}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None or not socket.exists():
        pytest.skip("Xvfb did not start")
    yield display
    proc.terminate()
    proc.wait(5)


def test_example_window_screenshot(xvfb_display, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    shot = tmp_path / "screenshot.png"
    docs_shot = ROOT / "docs" / "screenshot.png"
    before = docs_shot.read_bytes() if docs_shot.exists() else None
    env = dict(os.environ, DISPLAY=xvfb_display, QT_QPA_PLATFORM="xcb")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway_studio",
            str(EXAMPLE),
            "--no-recovery",
            "--screenshot",
            str(shot),
            "--screenshot-timeout",
            "60",
            "--window-size",
            WINDOW,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 and "could not connect to display" in proc.stderr.lower():
        pytest.skip(f"Qt's xcb platform cannot start here: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB")).astype(np.int32)
    h, w = rgb.shape[:2]
    assert (w, h) == tuple(int(v) for v in WINDOW.split("x"))
    # the viewer (right part) shows the photo: the red motorcycle is there
    right = rgb[: int(h * 0.55), int(w * 0.6) :]
    reds = (right[..., 0] > 150) & (right[..., 1] < 90) & (right[..., 2] < 90)
    assert reds.sum() > 2000, "the viewer shows no picture"
    # the canvas (middle) has node thumbnails: many distinct colours, not a flat grid
    canvas = rgb[int(h * 0.2) : int(h * 0.7), int(w * 0.15) : int(w * 0.55)].reshape(-1, 3)
    assert len(np.unique(canvas, axis=0)) > 500
    if os.environ.get("GATEWAY_STUDIO_UPDATE_DOCS") == "1":
        docs_shot.parent.mkdir(exist_ok=True)
        shutil.copy(shot, docs_shot)
    else:  # a plain test run leaves the tracked picture alone
        after = docs_shot.read_bytes() if docs_shot.exists() else None
        assert after == before, "the test rewrote docs/screenshot.png"
