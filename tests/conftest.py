"""Test-wide settings: offscreen Qt, an offline hub, and a throwaway bundle cache."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("GATEWAY_STUDIO_CACHE", tempfile.mkdtemp(prefix="gws-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty models folder (GATEWAY_STUDIO_MODELS) and an empty Hugging Face cache, both
    in tmp, offline; the model store's memory cache is cleared before and after."""
    from huggingface_hub import constants

    from gateway_studio.engine import models

    root = tmp_path / "models"
    root.mkdir()
    monkeypatch.setenv(models.MODELS_ENV, str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv(models.DEVICE_ENV, raising=False)
    models.clear_cache()
    yield root
    models.clear_cache()
