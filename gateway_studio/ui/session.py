"""What the app remembers between runs: recent files and crash-recovery autosaves.

Files live under the user config folder (platformdirs; ``GATEWAY_STUDIO_CONFIG``
overrides it, which the tests use). Each running window autosaves to a file named after
its process id; on the next start, autosaves of processes that are gone are offered.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway_studio.engine.files import atomic_write

MAX_RECENT = 10


def config_dir() -> Path:
    env = os.environ.get("GATEWAY_STUDIO_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("gateway-studio"))


@dataclass
class Recovery:
    file: Path
    saved: float
    path: str | None
    patch: dict[str, Any]
    #: Folder relative file params resolve from (an untitled copy of an example has one).
    base_dir: str | None = None
    #: What the window called an untitled patch ("motorcycle (example)", "photo.jpg").
    name: str | None = None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A crashed window whose parent has not reaped it yet still answers kill(pid, 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS, Windows): trust kill()
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


class Session:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or config_dir()
        self.recovery_dir = self.root / "recovery"
        self.autosave_file = self.recovery_dir / f"autosave-{os.getpid()}.json"

    # -- recent files -------------------------------------------------------------------
    @property
    def _recent_file(self) -> Path:
        return self.root / "recent.json"

    def recent(self) -> list[Path]:
        try:
            items = json.loads(self._recent_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(items, list):  # a damaged file (null, 5): every open/save raised
            return []
        return [Path(p) for p in items if isinstance(p, str)]

    def add_recent(self, path: Path) -> None:
        path = Path(path).resolve()
        items = [p for p in self.recent() if p != path]
        items.insert(0, path)
        data = json.dumps([str(p) for p in items[:MAX_RECENT]], indent=1)
        with contextlib.suppress(OSError):
            atomic_write(self._recent_file, data.encode("utf-8"))

    def clear_recent(self) -> None:
        self._recent_file.unlink(missing_ok=True)

    # -- view settings ------------------------------------------------------------------
    @property
    def _settings_file(self) -> Path:
        return self.root / "settings.json"

    def setting(self, key: str, default: bool) -> bool:
        """A remembered on/off choice (View ▸ Snap to grid, View ▸ Minimap)."""
        try:
            data = json.loads(self._settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return default
        value = data.get(key) if isinstance(data, dict) else None
        return value if isinstance(value, bool) else default

    def set_setting(self, key: str, value: bool) -> None:
        try:
            data = json.loads(self._settings_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data[key] = bool(value)
        with contextlib.suppress(OSError):
            atomic_write(self._settings_file, json.dumps(data, indent=1).encode("utf-8"))

    # -- window layout ------------------------------------------------------------------
    @property
    def _layout_file(self) -> Path:
        return self.root / "window.json"

    def save_layout(self, geometry: bytes, state: bytes) -> None:
        """Where the window and its docks were, for the next start (desktop habit)."""
        data = {
            "geometry": base64.b64encode(geometry).decode(),
            "state": base64.b64encode(state).decode(),
        }
        with contextlib.suppress(OSError):
            atomic_write(self._layout_file, json.dumps(data).encode("utf-8"))

    def layout(self) -> tuple[bytes, bytes] | None:
        try:
            data = json.loads(self._layout_file.read_text(encoding="utf-8"))
            return base64.b64decode(data["geometry"]), base64.b64decode(data["state"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # -- recovery -----------------------------------------------------------------------
    def autosave(
        self,
        patch: dict[str, Any],
        path: Path | None,
        base_dir: Path | None = None,
        *,
        name: str | None = None,
    ) -> None:
        data = {
            "saved": time.time(),
            "path": str(path) if path else None,
            "patch": patch,
            "base_dir": str(base_dir) if base_dir else None,
            "name": name,
        }
        # fsynced (file and folder): the autosave is what survives a crash or power cut
        atomic_write(self.autosave_file, json.dumps(data).encode("utf-8"), durable=True)

    def discard_autosave(self) -> None:
        self.autosave_file.unlink(missing_ok=True)

    def orphaned(self) -> list[Recovery]:
        """Autosaves left by windows that did not close cleanly (newest first)."""
        found: list[Recovery] = []
        if not self.recovery_dir.is_dir():
            return found
        for file in self.recovery_dir.glob("autosave-*.json"):
            try:
                pid = int(file.stem.split("-", 1)[1])
            except ValueError:
                continue
            if _alive(pid):
                continue
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
                path, base, name = data.get("path"), data.get("base_dir"), data.get("name")
                if any(v is not None and not isinstance(v, str) for v in (path, base, name)):
                    raise TypeError("path")  # Path(5) raised in the recovery prompt at start
                saved, patch = float(data["saved"]), dict(data["patch"])
                found.append(Recovery(file, saved, path, patch, base, name))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                file.unlink(missing_ok=True)  # unreadable: nothing to offer
        return sorted(found, key=lambda r: -r.saved)
