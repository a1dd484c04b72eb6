"""Test-wide settings: offscreen Qt, an offline hub, and a throwaway bundle cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GATEWAY_STUDIO_CACHE", tempfile.mkdtemp(prefix="gws-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SHARED = ROOT.parent / "shared"
