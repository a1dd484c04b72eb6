"""``gateway-studio models list [--json]`` and ``models pull NAME``: the printing."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

from gateway_studio.engine.models import (
    CATALOGUE,
    MODELS_ENV,
    ModelInfo,
    _hf_cache_dir,
    _size,
    locate,
    models_dirs,
    pull,
)


def list_rows(models: Iterable[ModelInfo] | None = None) -> list[dict[str, Any]]:
    rows = []
    for m in models if models is not None else CATALOGUE:
        where = locate(m.name)
        rows.append(
            {
                **m.to_json(),
                "present": where is not None,
                "path": str(where.path) if where else None,
            }
        )
    return rows


def cli(args: argparse.Namespace) -> int:
    """``gateway-studio models list [--json]`` and ``gateway-studio models pull NAME``."""
    verb = getattr(args, "models_verb", None) or "list"
    if verb == "pull":
        path = pull(args.name)
        print(f"{args.name}: ready in {path}")
        return 0
    rows = list_rows()
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return 0
    cols = [
        ("name", [r["name"] for r in rows]),
        ("task", [r["task"] for r in rows]),
        ("size", [_size(r["size_mb"]) for r in rows]),
        ("output", [r["output"] for r in rows]),
        ("licence", [r["licence"] for r in rows]),
        ("present", [f"yes  {r['path']}" if r["present"] else "no" for r in rows]),
    ]
    widths = [max(len(title), *(len(v) for v in values)) for title, values in cols]
    for i in range(-1, len(rows)):
        cells = [title if i < 0 else values[i] for title, values in cols]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    dirs = os.pathsep.join(str(d) for d in models_dirs()) or f"(none; set {MODELS_ENV})"
    print(f"\nmodel folders: {dirs}\nHugging Face cache: {_hf_cache_dir()}", file=sys.stderr)
    return 0
