"""Keeps the disk cache within its limit while the app runs.

The command line prunes the cache at the end of every render; the app runs for hours, so
a timer prunes it (least recently used entries first, by total bytes; see
``engine/cache.py``) on a thread of its own: scanning thousands of entries never stalls
the UI thread.
"""

from __future__ import annotations

import threading

from qtpy.QtCore import QObject, QTimer

from gateway_studio.engine.cache import SlotCache

#: How often the app brings the disk cache back within GATEWAY_STUDIO_CACHE_MAX_GB.
PRUNE_SECONDS = 60.0


class CachePruner(QObject):
    def __init__(
        self, cache: SlotCache, interval: float = PRUNE_SECONDS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.cache = cache
        self._thread: threading.Thread | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval * 1000))
        self.timer.timeout.connect(self.prune_soon)
        self.timer.start()

    def prune_soon(self) -> threading.Thread | None:
        """Start a prune on a thread (None if one is still running)."""
        if self._thread is not None and self._thread.is_alive():
            return None
        self._thread = threading.Thread(target=self.cache.prune, name="gateway-prune", daemon=True)
        self._thread.start()
        return self._thread
