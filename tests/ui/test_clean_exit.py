"""The app exits cleanly after a copy: no segfault from a clipboard that outlives Python."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication
from gateway_studio.ui.main_window import MainWindow

app = QApplication([])  # module-level, as a script keeps it: destroyed after Python
w = MainWindow()
w.show()
w.files.open_path("resources/patches/depth_band.json", ask=False)

def go():
    for item in w.scene.items():
        item.setSelected(True)
    w.copy()
    assert QApplication.clipboard().text().startswith("{")
    w.shutdown()
    app.quit()

QTimer.singleShot(300, go)
app.exec()
"""


def test_process_exits_cleanly_after_copying_nodes(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        GATEWAY_STUDIO_WARM_IMPORTS="0",
        GATEWAY_STUDIO_CONFIG=str(tmp_path / "config"),
        GATEWAY_STUDIO_CACHE=str(tmp_path / "cache"),
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
