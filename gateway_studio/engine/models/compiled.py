"""Compiled runtimes: a loaded torch model exported once to OpenVINO or ONNX Runtime.

Why: on a CPU, the same Depth-Anything graph runs 2-6x faster in OpenVINO (bf16 where
the CPU has it) than in PyTorch eager (``../shared/FACTS.md``; ``benchmarks/depth_speed.py``
measures it side by side).

Spec
----
* ``pick_runtime(requested, device)``: ``auto`` is ``torch`` on a CUDA/MPS device, else
  ``openvino`` where it is installed and the CPU is x86, else ``torch``. An explicit
  ``openvino`` / ``onnxruntime`` that is not installed is a ``ModelError`` naming the extra.
* ``compile_model(loaded, example, ...)`` exports ``loaded`` (an fp32 torch model) for one
  input shape and returns a ``Compiled`` callable: numpy in, named numpy outputs out.
  The artefact (OpenVINO IR / ONNX file) lives on disk in
  ``compiled_root()/<key[:2]>/<key>/``, beside the slot cache, keyed like slots: a digest
  of the weights' identity, runtime and its version, input shape, output names and the
  torch/transformers versions. One export serves every precision; each precision has its
  compiled blob (OpenVINO's ``CACHE_DIR``, ``blobs/`` in that folder) and its decision
  (``meta.json``). A second run (or another process) pays no export; a process keeps
  ``MAX_COMPILED`` compiled models in memory.
* Shapes: these graphs are traced, so one artefact serves one input shape; the depth
  preprocessing already snaps the model input to multiples of 14 at a fixed short side,
  so every photo of one aspect ratio (every 1080p frame, every 4:3 phone photo) shares
  one artefact.
* Precision ``auto``: bf16 only where the hardware has it (OpenVINO's CPU capabilities
  list ``BF16``) and, measured at export on the real input, the bf16 output stays at
  Pearson r ≥ ``BF16_MIN_R`` against torch fp32; else fp32. ``bf16`` asks for bf16
  (still fp32 where the CPU lacks it, said in ``note``). ONNX Runtime runs fp32 here (its
  CPU provider has no bf16 kernels for these graphs). The decision and the r it was
  based on are stored beside the artefact (``meta.json``) and reported on every use.
* Export failures raise ``ExportError``; the caller decides (the nodes fall back to
  torch and say so in their status).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine.keys import default_cache_dir

from .backends import (
    _compile_onnxruntime,
    _compile_openvino,
    _export_onnx,
    _export_openvino,
    _torch_reference,
    openvino_has_bf16,
)
from .catalogue import ModelError
from .loading import LoadedModel

Runtime = Literal["auto", "torch", "openvino", "onnxruntime"]
RUNTIMES: tuple[str, ...] = ("auto", "torch", "openvino", "onnxruntime")
#: bf16 is used by ``auto`` only when its output correlates at least this well with fp32.
BF16_MIN_R = 0.9999
#: Compiled models kept in memory per process (least recently used dropped).
MAX_COMPILED = 4
#: Bumped when what an artefact holds changes (old folders are then ignored).
FORMAT = 1
#: The pip extra that installs each runtime (named in errors).
EXTRAS = {"openvino": "runtimes", "onnxruntime": "onnx"}
_PACKAGES = {"openvino": ("openvino",), "onnxruntime": ("onnxruntime", "onnx")}


class ExportError(ModelError):
    """A model could not be exported to, or compiled by, a runtime."""


def missing_packages(runtime: str) -> list[str]:
    """The packages ``runtime`` needs that are not installed (none for torch)."""
    return [p for p in _PACKAGES.get(runtime, ()) if importlib.util.find_spec(p) is None]


def pick_runtime(requested: str, device: str) -> str:
    """The runtime to use: ``requested``, or for ``auto`` see the module docstring."""
    choice = requested.strip().lower()
    if choice not in RUNTIMES:
        raise ModelError(f"unknown runtime '{requested}': one of {', '.join(RUNTIMES)}")
    if choice == "auto":
        x86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")
        if device == "cpu" and x86 and not missing_packages("openvino"):
            return "openvino"
        return "torch"
    if choice == "torch":
        return choice
    if device != "cpu":
        raise ModelError(f"runtime '{choice}' runs on the CPU here; the device is '{device}'")
    missing = missing_packages(choice)
    if missing:
        raise ModelError(
            f"runtime '{choice}' needs {', '.join(missing)}: "
            f'pip install "gateway-studio[{EXTRAS[choice]}]"'
        )
    return choice


def compiled_root() -> Path:
    """Where artefacts live: ``compiled/`` inside the slot cache folder."""
    return default_cache_dir() / "compiled"


def correlation(a: NDArray[Any], b: NDArray[Any]) -> float:
    """Pearson r of two arrays (1.0 when both are constant and equal)."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.std() == 0 or y.std() == 0:
        return 1.0 if np.allclose(x, y) else 0.0
    return float(np.corrcoef(x, y)[0, 1])


@dataclass(frozen=True)
class Compiled:
    """A compiled model for one input shape: ``compiled(x)`` → {output name: array}."""

    runtime: str
    precision: str
    shape: tuple[int, ...]
    folder: Path
    #: Seconds this call spent exporting (0.0 when the artefact came from disk/memory).
    export_seconds: float
    #: r of this precision's output vs torch fp32, measured at export (None: not measured).
    r: float | None
    #: Why this precision (e.g. "bf16: r 0.99993 ≥ 0.9999 vs torch fp32").
    note: str
    run: Callable[[NDArray[np.float32]], dict[str, NDArray[np.float32]]]

    def __call__(self, x: NDArray[np.float32]) -> dict[str, NDArray[np.float32]]:
        if tuple(x.shape) != self.shape:
            raise ModelError(f"compiled for input {self.shape}, given {tuple(x.shape)}")
        return self.run(np.ascontiguousarray(x, dtype=np.float32))

    @property
    def label(self) -> str:
        return f"{self.runtime} {self.precision}"


def _versions(runtime: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "transformers", *_PACKAGES.get(runtime, ())):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "-"
    return out


def artefact_key(identity: str, runtime: str, shape: Sequence[int], outputs: Sequence[str]) -> str:
    data = {
        "format": FORMAT,
        "identity": identity,
        "runtime": runtime,
        "shape": list(shape),
        "outputs": list(outputs),
        "versions": _versions(runtime),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


_EXPORT = {"openvino": _export_openvino, "onnxruntime": _export_onnx}
_COMPILE = {"openvino": _compile_openvino, "onnxruntime": _compile_onnxruntime}


# ----------------------------------------------------------------------------- precision
def _decide_precision(
    runtime: str,
    precision: str,
    folder: Path,
    outputs: Sequence[str],
    example: NDArray[np.float32],
    reference: list[NDArray[np.float32]],
) -> tuple[str, float | None, str]:
    """(precision to run, its r vs torch fp32, why) — measured once, at export."""
    if runtime != "openvino":
        said = "bf16 asked; ONNX Runtime's CPU runs fp32" if precision == "bf16" else "fp32"
        return "fp32", None, said
    if precision == "fp32":
        return "fp32", None, "fp32"
    if not openvino_has_bf16():
        return "fp32", None, "fp32: this CPU has no native bf16"
    run = _compile_openvino(folder, "bf16", outputs)(example)
    r = min(correlation(run[n], ref) for n, ref in zip(outputs, reference, strict=True))
    if precision == "bf16" or r >= BF16_MIN_R:
        return "bf16", r, f"bf16: r {r:.5f} vs torch fp32, checked once"
    return "fp32", r, f"fp32: bf16 gave r {r:.5f} < {BF16_MIN_R} vs torch fp32"


# ----------------------------------------------------------------------------- the cache
_memory: OrderedDict[str, Compiled] = OrderedDict()
_memory_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}


def _read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """meta.json, replaced atomically (another process may read it meanwhile)."""
    tmp = folder / f"meta.json.{os.getpid()}-{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "meta.json")


def _export(
    loaded: LoadedModel,
    example: NDArray[np.float32],
    runtime: str,
    outputs: Sequence[str],
    folder: Path,
) -> dict[str, Any]:
    """Export into a temporary folder, then rename it into place; its meta.json."""
    if loaded.precision != "fp32":
        raise ExportError(f"export needs the fp32 model, got {loaded.precision}")
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        _EXPORT[runtime](loaded, example, outputs, tmp)
        meta = {
            "format": FORMAT,
            "runtime": runtime,
            "export_seconds": round(time.perf_counter() - t0, 3),
            "shape": list(example.shape),
            "outputs": list(outputs),
            "model": str(loaded.path),
            #: requested precision → {"precision", "r", "note"}, decided on first use
            "precisions": {},
        }
        _write_meta(tmp, meta)
        shutil.rmtree(folder, ignore_errors=True)  # a broken leftover
        os.replace(tmp, folder)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"{runtime} export failed: {type(exc).__name__}: {exc}") from exc
    return meta


def _decision(
    loaded: LoadedModel,
    example: NDArray[np.float32],
    runtime: str,
    precision: str,
    outputs: Sequence[str],
    folder: Path,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """What ``precision`` runs as for this artefact: from meta.json, else measured now
    (bf16 vs a torch fp32 forward on ``example``) and recorded there."""
    known = meta.get("precisions", {}).get(precision)
    if isinstance(known, dict) and known.get("precision") in ("fp32", "bf16"):
        return known
    try:
        reference = _torch_reference(loaded, example, outputs) if runtime == "openvino" else []
        chosen, r, why = _decide_precision(runtime, precision, folder, outputs, example, reference)
    except Exception as exc:
        raise ExportError(f"{runtime} cannot compile {folder}: {exc}") from exc
    decided = {"precision": chosen, "r": r, "note": why}
    meta.setdefault("precisions", {})[precision] = decided
    with contextlib.suppress(OSError):  # unrecorded: decided again next time
        _write_meta(folder, meta)
    return decided


def compile_model(
    loaded: LoadedModel,
    example: NDArray[np.float32],
    *,
    runtime: str,
    precision: str = "auto",
    identity: str,
    outputs: Sequence[str],
    root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Compiled:
    """The compiled model for ``example``'s shape: from memory, else from disk, else
    exported now (see the module docstring). ``ExportError`` when that fails.

    One export (IR / ONNX file) serves every precision of a (model, runtime, shape); each
    precision has its own compiled blob and its own recorded decision."""
    if runtime not in _EXPORT:
        raise ModelError(f"no compiled runtime '{runtime}': one of {', '.join(_EXPORT)}")
    if precision not in ("auto", "fp32", "bf16"):
        raise ModelError(f"unknown precision '{precision}' for {runtime}: auto, fp32 or bf16")
    shape = tuple(int(s) for s in example.shape)
    key = artefact_key(identity, runtime, shape, outputs)
    memo = f"{key}:{precision}"
    with _memory_lock:
        hit = _memory.get(memo)
        if hit is not None:
            _memory.move_to_end(memo)
            return hit
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:
        with _memory_lock:
            if memo in _memory:
                return _memory[memo]
        folder = (root or compiled_root()) / key[:2] / key
        meta = _read_meta(folder)
        seconds = 0.0
        if meta is None:
            if progress is not None:
                progress(f"exporting to {runtime} (once per model and input size)")
            meta = _export(loaded, example, runtime, outputs, folder)
            seconds = float(meta["export_seconds"])
        decided = _decision(loaded, example, runtime, precision, outputs, folder, meta)
        try:
            run = _COMPILE[runtime](folder, str(decided["precision"]), outputs)
        except Exception as exc:
            raise ExportError(f"{runtime} cannot compile {folder}: {exc}") from exc
        r = decided.get("r")
        compiled = Compiled(
            runtime,
            str(decided["precision"]),
            shape,
            folder,
            seconds,
            None if r is None else float(r),
            str(decided.get("note", "")),
            run,
        )
        with _memory_lock:
            _memory[memo] = compiled
            while len(_memory) > MAX_COMPILED:
                _memory.popitem(last=False)
        return compiled


def clear_compiled() -> None:
    """Forget the compiled models in memory (the artefacts on disk stay)."""
    with _memory_lock:
        _memory.clear()


def describe(compiled: Compiled) -> str:
    """One status line: runtime, precision and, the first time, the export cost."""
    said = compiled.note not in ("", compiled.precision)
    text = f"{compiled.label} ({compiled.note})" if said else compiled.label
    if compiled.export_seconds > 0:
        text += f"; exported once in {compiled.export_seconds:.1f} s"
    return text
