"""Model nodes on a compiled runtime (OpenVINO / ONNX Runtime), falling back to torch.

The model store exports and caches (``gateway_studio.engine.models.compiled``); this is
what a node does with it: pick the runtime, run the compiled model on the prepared input,
and say in the node's status which runtime and precision ran, what the one-time export
cost, or why it fell back to torch. A fallback is never silent (``ctx.note``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Context, Help, Slot, models

RuntimeParam = Annotated[
    Literal["auto", "torch", "openvino", "onnxruntime"],
    Help(
        "What runs the model: auto = OpenVINO on an x86 CPU where it is installed (2-6x "
        "faster than PyTorch), PyTorch on a GPU or elsewhere. The first run on a new "
        "model or input shape exports it once (the status says how long); failures fall "
        "back to PyTorch and say so"
    ),
]
PrecisionParam = Annotated[
    Literal["auto", "fp32", "bf16"],
    Help(
        "Model arithmetic. auto = bf16 only where the CPU has it and, checked at export, "
        "the result stays at r ≥ 0.9999 against fp32 (OpenVINO); fp32 on PyTorch. bf16 "
        "is faster with a little noise"
    ),
]


def choose(runtime: str) -> str:
    """The runtime that will run (``auto`` resolved for this machine's device)."""
    device = models.pick_device(None)
    return models.pick_runtime(runtime, device)


def torch_precision(precision: str) -> str:
    """PyTorch's precision for the param: ``auto`` is fp32 there (its bf16 is unchecked)."""
    return "fp32" if precision == "auto" else precision


def run_compiled(
    name: str,
    task: str,
    pixel_values: NDArray[np.float32],
    *,
    runtime: str,
    precision: str,
    outputs: Sequence[str],
    ctx: Context,
    progress_at: float = 0.3,
) -> dict[str, NDArray[np.float32]] | None:
    """Run ``name`` on ``runtime`` (openvino / onnxruntime) for this input; the outputs,
    or None when the export failed (noted in ``ctx``: the caller then runs torch)."""
    loaded = models.load_model(
        name, task=task, precision="fp32", progress=lambda m: ctx.progress(0.05, m)
    )
    try:
        compiled = models.compile_model(
            loaded,
            pixel_values,
            runtime=runtime,
            precision=precision,
            identity=models.identity(name),
            outputs=outputs,
            progress=lambda m: ctx.progress(progress_at, m),
        )
    except models.ExportError as exc:
        ctx.note(f"{runtime} failed, ran PyTorch instead: {exc}")
        return None
    ctx.progress(progress_at, f"inference ({compiled.label})")
    result = compiled(pixel_values)
    ctx.note(f"runtime: {models.describe(compiled)}")
    return result


def as_numpy(tensor: Any) -> NDArray[np.float32]:
    """A torch tensor (the preprocessed input) as a contiguous float32 array."""
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)


def in_model_worker(
    type_id: str, inputs: dict[str, Slot], params: dict[str, Any], ctx: Context
) -> dict[str, Slot] | None:
    """In the app: the node's outputs computed by the model worker (``engine/remote.py``),
    so the app never imports torch. None elsewhere (the CLI, scripts, the worker itself):
    the node then computes in this process."""
    from gateway_studio.engine import remote

    return remote.run_remote(type_id, inputs, params, ctx)
