"""Import torch and transformers (and numba's compiled kernels) in the background while
the artist is not interacting.

Importing them holds the GIL inside C extension initialisation for 100-250 ms at a time
(measured on this 2-core machine: ``import torch`` 160-230 ms in torch's own C start-up),
whichever thread does it, so the UI thread freezes that long; and once they are in memory,
any full garbage collection walks their ~360k objects for ~270 ms, also with the GIL held
(that was most of the freeze when the first model loaded). The first cannot be avoided
in-process; what we choose is *when* it happens: each module is imported one at a time, on
a background thread, only when the UI is idle (no mouse button down, no knob drag, no
evaluation running), shortly after start-up — not on the first model node, mid-drag. The
second is avoided: no collection during these imports, then ``gc.freeze()``.
Set ``GATEWAY_STUDIO_WARM_IMPORTS=0`` to turn it off (less memory when no model is used).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence

from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import QApplication

ENV = "GATEWAY_STUDIO_WARM_IMPORTS"
#: In the order the first depth.estimate needs them; each one is a separate stall.
MODULES: tuple[str, ...] = (
    "nodes._lens_kernel",  # numba and isolate's compiled loops: ~1.1 s, ~7 s the first time
    "torch",
    "torch.nn.functional",
    "transformers",
    "transformers.models.auto.modeling_auto",
    "transformers.models.depth_anything.modeling_depth_anything",
)
#: The UI must have been idle this long before the next import starts.
IDLE_SECONDS = 0.6
POLL_MS = 150


def enabled() -> bool:
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class WarmImporter(QObject):
    """Imports ``modules`` one by one on a daemon thread, each only after the UI is idle."""

    #: (module name, index, count) when an import starts
    started = Signal(str, int, int)
    #: (seconds spent importing, error text or "")
    finished = Signal(float, str)

    def __init__(
        self,
        is_idle: Callable[[], bool],
        modules: Sequence[str] = MODULES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.is_idle = is_idle
        self.modules = [m for m in modules if m not in sys.modules]
        self.index = 0
        self.seconds = 0.0
        self.error = ""
        self.done = False
        self._idle_since: float | None = None
        self._thread: threading.Thread | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        if not self.modules:
            self._finish()
            return
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _ui_idle(self) -> bool:
        # a pressed button means a drag (node, wire, slider) may be in progress
        return QApplication.mouseButtons() == Qt.MouseButton.NoButton and self.is_idle()

    def _poll(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        if self.error or self.index >= len(self.modules):
            self._finish()
            return
        now = time.perf_counter()
        if not self._ui_idle():
            self._idle_since = None
            return
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < IDLE_SECONDS:
            return
        name = self.modules[self.index]
        self.index += 1
        self.started.emit(name, self.index, len(self.modules))
        self._thread = threading.Thread(
            target=self._import, args=(name,), name=f"warm-import {name}", daemon=True
        )
        self._thread.start()

    def _import(self, name: str) -> None:
        t0 = time.perf_counter()
        # A full garbage collection over the ~360k objects torch + transformers create takes
        # ~270 ms with the GIL held; one triggered mid-import (or later, while a model
        # loads) freezes the UI. So: no collection during the import, then move everything
        # alive into the permanent generation, which later collections skip.
        collecting = gc.isenabled()
        gc.disable()
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional library: the node will say so itself
            self.error = f"{name}: {exc}"
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
        self.seconds += time.perf_counter() - t0

    def _finish(self) -> None:
        self._timer.stop()
        if not self.done:
            self.done = True
            self.finished.emit(self.seconds, self.error)
