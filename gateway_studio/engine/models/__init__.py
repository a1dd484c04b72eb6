"""The model store: which models we know, where their weights are, and loading them once.

No Qt here, and no torch/transformers at import time (they load inside ``load_model``),
so resolving a name — and failing with a clear message when the weights are missing — is
instant.

Names
-----
A model is named by any of:

* a catalogue name, e.g. ``"depth-anything-v2-small"`` (see ``CATALOGUE``);
* a Hugging Face hub id, e.g. ``"depth-anything/Depth-Anything-V2-Small-hf"`` (catalogued
  or not: any transformers model of the right task works);
* a local folder holding ``config.json`` + ``*.safetensors`` (absolute, ``~/…`` or
  ``./…``).

Where weights are looked for (``resolve``), in order
----------------------------------------------------
1. a folder path given as the name itself;
2. every folder in ``$GATEWAY_STUDIO_MODELS`` (``os.pathsep``-separated; the CLI's
   ``--models-dir`` sets it): ``<dir>/<name>``, ``<dir>/<org>--<repo>``, ``<dir>/<repo>``,
   and a Hugging Face cache laid out inside ``<dir>`` (``<dir>/models--org--repo``);
3. the Hugging Face cache (``HF_HOME`` / ``HF_HUB_CACHE`` conventions), read with
   ``local_files_only=True`` — the store never touches the network while resolving or
   loading. Downloading is a separate, explicit step: ``gateway-studio models pull NAME``.

Missing weights raise ``ModelMissingError`` at once; its message names the model, every
place looked in, and the exact pull command. There is never a silent substitute model.

Loading (``load_model``)
------------------------
``load_model(name, task="depth-estimation", device=None, precision="fp32")`` returns a
``LoadedModel`` (the ``torch.nn.Module`` in eval mode on its device, the folder it came
from, its ``config.json`` and ``preprocessor_config.json`` as dicts, the catalogue entry
if any). Weights load with ``use_safetensors=True`` and never ``trust_remote_code``; a
folder with only pickle-based ``.bin`` weights is refused. Loaded models are cached in
memory per (folder + weights fingerprint, task, device, precision): a second node, or a
re-run, gets the same object. The cache is thread-safe (two threads asking for the same
model load it once) and keeps the ``MAX_LOADED`` most recently used models.

Devices: ``pick_device()`` takes an explicit request, else ``$GATEWAY_STUDIO_DEVICE``
(the CLI's ``--device``), else CUDA, then Apple MPS, then CPU.

For other model families (segmentation, …) use ``task=`` with one of ``TASKS`` or pass a
``loader`` callable; add catalogue entries with ``register_model``.

Single-file models
------------------
Some nodes run one ONNX / TFLite file through OpenCV (``yunet`` for ``faces.detect``,
``mediapipe-selfie`` for ``segment.semantic``). Their catalogue entries carry a
``filename``; ``resolve_file(name, path=None)`` finds that file: an explicit path, else
``<dir>/<filename>``, ``<dir>/<name>/<filename>`` (and the entry's ``folders``) in every
``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face cache (``try_to_load_from_cache``:
no network). ONNX and TFLite are data, not pickles: nothing runs when they are read; any
other suffix is refused. ``models list`` shows them; ``models pull yunet`` downloads the one
file with ``hf_hub_download``. A file that is not on the hub (``repo_id`` "") has a
``source_url``: ``pull`` and the missing-file error say where to fetch it by hand rather
than downloading from elsewhere. ``resolve`` of such a name returns the file, and
``load_model`` refuses it (it is not a transformers model).
"""

from __future__ import annotations

from .backends import openvino_has_bf16
from .catalogue import (
    CATALOGUE,
    DEVICE_ENV,
    MAX_LOADED,
    MODELS_ENV,
    PULL_PATTERNS,
    TASKS,
    ModelError,
    ModelInfo,
    OutputKind,
    Precision,
    Task,
    _size,
    known_models,
    lookup,
    pull_command,
    register_model,
    single_file_models,
)
from .compiled import (
    BF16_MIN_R,
    RUNTIMES,
    Compiled,
    ExportError,
    Runtime,
    clear_compiled,
    compile_model,
    compiled_root,
    correlation,
    describe,
    pick_runtime,
)
from .identities import identity
from .loading import LoadedModel, Loader, clear_cache, load_model, loaded_models
from .pulling import pull, pull_file
from .resolving import (
    SAFE_FILE_SUFFIXES,
    ResolvedModel,
    _hf_cache_dir,
    _hf_snapshot,
    file_candidates,
    file_hint,
    locate,
    looks_like_path,
    models_dirs,
    resolve,
    resolve_file,
)
from .runtimes import pick_device, torch_dtype

__all__ = [
    "BF16_MIN_R",
    "CATALOGUE",
    "DEVICE_ENV",
    "MAX_LOADED",
    "MODELS_ENV",
    "PULL_PATTERNS",
    "RUNTIMES",
    "SAFE_FILE_SUFFIXES",
    "TASKS",
    "Compiled",
    "ExportError",
    "LoadedModel",
    "Loader",
    "ModelError",
    "ModelInfo",
    "OutputKind",
    "Precision",
    "ResolvedModel",
    "Runtime",
    "Task",
    "_hf_cache_dir",
    "_hf_snapshot",
    "_size",
    "clear_cache",
    "clear_compiled",
    "compile_model",
    "compiled_root",
    "correlation",
    "describe",
    "file_candidates",
    "file_hint",
    "identity",
    "known_models",
    "load_model",
    "loaded_models",
    "locate",
    "looks_like_path",
    "lookup",
    "models_dirs",
    "openvino_has_bf16",
    "pick_device",
    "pick_runtime",
    "pull",
    "pull_command",
    "pull_file",
    "register_model",
    "resolve",
    "resolve_file",
    "single_file_models",
    "torch_dtype",
]
