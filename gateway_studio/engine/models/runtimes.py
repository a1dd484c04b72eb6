"""Devices and precisions: where torch runs a model, and in which dtype."""

from __future__ import annotations

import os
from typing import Any

from .catalogue import DEVICE_ENV, ModelError


def pick_device(requested: str | None = None) -> str:
    """ "cuda", "mps" or "cpu" (or "cuda:N"): request > $GATEWAY_STUDIO_DEVICE > auto."""
    choice = (requested or os.environ.get(DEVICE_ENV, "") or "auto").strip().lower()
    kind = choice.split(":", 1)[0]
    if kind == "cpu":
        return "cpu"
    if kind not in ("auto", "cuda", "mps"):
        raise ModelError(f"unknown device '{choice}': use auto, cpu, cuda, cuda:N or mps")
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and bool(mps.is_available())
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device '{choice}' requested but CUDA is not available here")
    if kind == "mps" and not has_mps:
        raise ModelError("device 'mps' requested but Apple MPS is not available here")
    return choice


def torch_dtype(precision: str, device: str) -> Any:
    """The torch dtype for a precision on a device; ``ModelError`` where unsupported."""
    import torch

    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
            raise ModelError(f"bf16 is not supported on {device}; use fp32")
        return torch.bfloat16
    if precision == "fp16":
        if device == "cpu":
            raise ModelError("fp16 is not supported on the CPU; use bf16 or fp32")
        return torch.float16
    raise ModelError(f"unknown precision '{precision}': use fp32, bf16 or fp16")
