"""The runtimes' own code: tracing a torch model to OpenVINO IR or ONNX, compiling it.

Each backend has ``export(loaded, example, outputs, folder)`` (writes the artefact into
``folder``) and ``compile(folder, precision, outputs)`` (returns ``run(x) → {name: array}``).
The cache, keys and precision decisions live in ``compiled.py``."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .loading import LoadedModel


def _wrapper(model: Any, outputs: Sequence[str]) -> Any:
    """The model as ``pixel_values → tuple of named outputs`` (what tracers want)."""
    import torch

    class Outputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: Any) -> tuple[Any, ...]:
            out = self.model(pixel_values=pixel_values)
            return tuple(getattr(out, name) for name in outputs)

    return Outputs().eval()


@contextmanager
def _quiet_tracer() -> Iterator[None]:
    """Tracing warns where the graph freezes a shape into a constant; one artefact serves
    one input shape by design, so those warnings say nothing the key doesn't."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # type: ignore[attr-defined]
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def _torch_reference(
    loaded: LoadedModel, example: NDArray[np.float32], outputs: Sequence[str]
) -> list[NDArray[np.float32]]:
    import torch

    with torch.inference_mode():
        out = loaded.model(pixel_values=torch.from_numpy(example).to(loaded.dtype))
    return [np.asarray(getattr(out, n).float().numpy(), dtype=np.float32) for n in outputs]


# ----------------------------------------------------------------------------- OpenVINO
def openvino() -> Any:
    """``import openvino``, with its converter's usage reporting off.

    OpenVINO's model converter sends usage events to an analytics service unless a consent
    file says no; its modules fall back to a silent stub when ``openvino_telemetry`` cannot
    be imported. The app never reports on its users, so that import is made to fail."""
    import sys

    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]
    import openvino as ov

    return ov


def _openvino_core() -> Any:
    return openvino().Core()


def openvino_has_bf16() -> bool:
    """True when OpenVINO's CPU plugin runs bf16 natively here (AVX512-BF16 / AMX)."""
    try:
        caps = _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # no CPU plugin: treat as no bf16
        return False
    return "BF16" in [str(c).upper() for c in caps]


def _export_openvino(
    loaded: LoadedModel, example: NDArray[np.float32], outputs: Sequence[str], folder: Path
) -> None:
    import torch

    ov = openvino()
    wrapper = _wrapper(loaded.model, outputs)
    with torch.no_grad(), _quiet_tracer():
        converted = ov.convert_model(wrapper, example_input=torch.from_numpy(example))
    # fp32 weights on disk: the precision is chosen at compile time, not by compression.
    ov.save_model(converted, str(folder / "model.xml"), compress_to_fp16=False)


def _compile_openvino(folder: Path, precision: str, outputs: Sequence[str]) -> Any:
    core = _openvino_core()
    threads = _threads()
    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "CACHE_DIR": str(folder / "blobs"),  # the compiled blob: the next process loads it
        **({"INFERENCE_NUM_THREADS": threads} if threads else {}),
    }
    compiled = core.compile_model(str(folder / "model.xml"), "CPU", config)
    request = compiled.create_infer_request()
    lock = threading.Lock()

    def run(x: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        with lock:  # one infer request: calls from several threads take turns
            result = request.infer([x])
            return {
                name: np.array(result[compiled.output(i)], dtype=np.float32)
                for i, name in enumerate(outputs)
            }

    return run


# ----------------------------------------------------------------------------- ONNX Runtime
def _export_onnx(
    loaded: LoadedModel, example: NDArray[np.float32], outputs: Sequence[str], folder: Path
) -> None:
    import torch

    wrapper = _wrapper(loaded.model, outputs)
    with torch.no_grad(), _quiet_tracer():
        torch.onnx.export(
            wrapper,
            (torch.from_numpy(example),),
            str(folder / "model.onnx"),
            opset_version=17,
            dynamo=False,
            input_names=["pixel_values"],
            output_names=list(outputs),
        )


def _compile_onnxruntime(folder: Path, precision: str, outputs: Sequence[str]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = _threads()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )

    def run(x: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        got = session.run(list(outputs), {"pixel_values": x})
        return {name: np.asarray(v, dtype=np.float32) for name, v in zip(outputs, got, strict=True)}

    return run


def _threads() -> int:
    """Threads for a runtime: as many as torch uses in this process (0: its default)."""
    import sys

    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else 0
