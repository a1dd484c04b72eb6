"""What a diffusers pipeline folder must be before ``from_pretrained`` may touch it.

Shared by ``generate.controlnet`` and ``depth.marigold``: a ``model_index.json`` naming
the expected pipeline class, components only from ``diffusers`` / ``transformers`` (no
custom code), and safetensors weights in every component folder that has a config.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

ALLOWED_LIBRARIES = ("diffusers", "transformers")


def pipeline_problem(folder: Path, classes: Collection[str], what: str) -> str | None:
    """None if ``folder`` is a pipeline of one of ``classes`` that we may load, else why
    not (``what`` names the kind expected, e.g. "Stable Diffusion pipeline")."""
    index = folder / "model_index.json"
    if not index.is_file():
        return "no model_index.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"model_index.json is unreadable ({exc})"
    if not isinstance(data, dict) or data.get("_class_name") not in classes:
        got = data.get("_class_name") if isinstance(data, dict) else None
        return f"not a {what} ({got!r})"
    for name, value in data.items():
        if name.startswith("_") or not isinstance(value, list) or value == [None, None]:
            continue  # config values (requires_safety_checker: false), absent parts
        if not (len(value) == 2 and value[0] in ALLOWED_LIBRARIES):
            return f"component {name} names {value!r}: only diffusers/transformers classes load"
        sub = folder / name
        if (sub / "config.json").is_file() and not any(sub.glob("*.safetensors")):
            return f"{name}/ has no .safetensors weights (pickle-based weights never load)"
    return None
