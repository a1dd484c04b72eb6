"""The segmentation models of ``segment.semantic`` and ``segment.subject``.

A transformers semantic-segmentation model (SegFormer by default; any SegFormer/BEiT/
DPT/UperNet-style model that outputs class logits, and Mask2Former/MaskFormer semantic
checkpoints) is loaded through the model store (``gateway_studio.engine.models``: local
files only, safetensors only) and split like a transformers pipeline: ``preprocess``
(numpy/torch, following the folder's ``preprocessor_config.json``: resize, rescale,
ImageNet normalisation, padding) → ``forward`` (the only step on the device) →
``postprocess`` (class scores upsampled *bilinearly* to the input's full size, then
argmax: ``nodes/_seg_upsample.py``). ``segment_image`` runs the whole pipeline, or the
MediaPipe selfie model (``nodes/_selfie.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import Context, GatewayError, Image, Segments

from ._runtime import as_numpy, choose, run_compiled, torch_precision
from ._seg_upsample import upsample_argmax
from ._selfie import SELFIE, is_selfie, resolve_selfie, segment_selfie

if TYPE_CHECKING:
    from gateway_studio.engine.models import LoadedModel

DEFAULT_MODEL = "nvidia/segformer-b0-finetuned-ade-512-512"
MODEL_CHOICES = (
    DEFAULT_MODEL,
    "nvidia/segformer-b2-finetuned-ade-512-512",
    "nvidia/segformer-b5-finetuned-ade-640-640",
    "facebook/mask2former-swin-tiny-ade-semantic",
    "mediapipe-selfie",
)
#: Query-based models: per-query class scores × per-query masks, not per-pixel logits.
_QUERY_MODELS = ("mask2former", "maskformer")
#: PIL resample codes in preprocessor configs → torch interpolation modes.
_RESAMPLE = {0: "nearest", 1: "bilinear", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bicubic"}


# ------------------------------------------------------------------------ loading
def model_task(name: str) -> str:
    """The model store task for a model: query-based models load as universal ones."""
    from gateway_studio.engine import models

    resolved = models.resolve(name)
    try:
        config = json.loads((resolved.path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    kind = str(config.get("model_type", ""))
    if kind == "oneformer":
        raise GatewayError(
            f"model '{name}' is a OneFormer, which needs a text task prompt; use a SegFormer "
            "or Mask2Former semantic checkpoint"
        )
    return "universal-segmentation" if kind in _QUERY_MODELS else "semantic-segmentation"


def load(name: str, ctx: Context, precision: str = "fp32") -> LoadedModel:
    """Load (once per process, through the model store) the segmentation model."""
    from gateway_studio.engine import models

    return models.load_model(
        name,
        task=model_task(name),
        precision=precision,
        progress=lambda message: ctx.progress(0.05, message),
    )


def model_identity(params: Mapping[str, Any], ctx: Context) -> str:
    """Cache-key identity of the ``model`` param: the weights it resolves to now."""
    from gateway_studio.engine import models

    name = str(params.get("model", DEFAULT_MODEL)).strip()
    if is_selfie(name):
        explicit = ctx.resolve_path(name) if name.lower().endswith(".tflite") else None
        return models.identity(SELFIE, file=explicit)
    if models.looks_like_path(name):
        name = str(ctx.resolve_path(name))
    return models.identity(name)


# ------------------------------------------------------------------------ preprocess
def _target_size(h: int, w: int, size: dict[str, Any]) -> tuple[int, int]:
    """The processor's resize target (height, width) for an h×w image."""
    if "height" in size and "width" in size:
        return int(size["height"]), int(size["width"])
    if "shortest_edge" in size:
        short = float(size["shortest_edge"])
        scale = short / min(h, w)
        longest = size.get("longest_edge")
        if longest and max(h, w) * scale > float(longest):
            scale = float(longest) / max(h, w)
        return max(round(h * scale), 1), max(round(w * scale), 1)
    raise GatewayError(f"unsupported resize rule in preprocessor_config.json: {size}")


def preprocess(pixels: NDArray[np.float32], config: dict[str, Any]) -> tuple[Any, tuple[int, int]]:
    """Image [0, 1] RGB (H, W, 3) → (pixel_values (1, 3, h, w) float32, valid (h, w)).

    Follows the processor config: resize (antialiased, as PIL does when shrinking),
    rescale, normalise, then zero-pad (after normalisation, as the processors do) to a
    multiple of ``size_divisor``. ``valid`` is the unpadded part of the model input.
    """
    import torch
    import torch.nn.functional as F

    h, w = pixels.shape[:2]
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1)[None]
    # The processors expect 0-255 values; our Image is 0-1.
    x = x * 255.0
    if config.get("do_resize", True):
        size = config.get("size") or {"height": 512, "width": 512}
        th, tw = _target_size(h, w, size)
        mode = _RESAMPLE.get(int(config.get("resample", 2)), "bilinear")
        if (th, tw) != (h, w):
            if mode == "nearest":
                x = F.interpolate(x, size=(th, tw), mode="nearest")
            else:
                x = F.interpolate(x, size=(th, tw), mode=mode, align_corners=False, antialias=True)
                x = x.clamp(0.0, 255.0)  # bicubic overshoots; PIL clips to the byte range
    if config.get("do_rescale", True):
        x = x * float(config.get("rescale_factor", 1.0 / 255.0))
    if config.get("do_normalize", True):
        mean = torch.tensor(config.get("image_mean", (0.485, 0.456, 0.406)), dtype=x.dtype)
        std = torch.tensor(config.get("image_std", (0.229, 0.224, 0.225)), dtype=x.dtype)
        x = (x - mean[:, None, None]) / std[:, None, None]
    valid = (int(x.shape[2]), int(x.shape[3]))
    divisor = int(config.get("size_divisor") or 0)
    if divisor > 1:
        ph = -(-valid[0] // divisor) * divisor
        pw = -(-valid[1] // divisor) * divisor
        x = F.pad(x, (0, pw - valid[1], 0, ph - valid[0]))
    return x.contiguous(), valid


# ------------------------------------------------------------------------ forward
def forward(loaded: LoadedModel, pixel_values: Any) -> Any:
    """Model input → class scores (C, h, w) float32 on the CPU (h, w: the score grid)."""
    import torch

    model = loaded.model
    x = pixel_values.to(device=loaded.device, dtype=loaded.dtype)
    with torch.inference_mode():
        out = model(pixel_values=x)
    return scores_from(lambda name: getattr(out, name, None), loaded.name)


#: The model outputs class scores are made from: query-based models, per-pixel logits.
QUERY_OUTPUTS = ("class_queries_logits", "masks_queries_logits")
LOGITS_OUTPUTS = ("logits",)


def scores_from(output: Callable[[str], Any], name: str) -> Any:
    """Class scores (C, h, w) float32 on the CPU from a model's outputs (by name)."""
    import torch

    def tensor(key: str) -> Any:
        value = output(key)
        return torch.from_numpy(value) if isinstance(value, np.ndarray) else value

    classes, masks = tensor(QUERY_OUTPUTS[0]), tensor(QUERY_OUTPUTS[1])
    if classes is not None and masks is not None:
        # Mask2Former/MaskFormer: P(class | query) × P(pixel in query's mask), summed over
        # queries; the last class is "no object" and is dropped (as transformers does).
        probs = classes.float().softmax(dim=-1)[..., :-1]
        return torch.einsum("bqc,bqhw->bchw", probs, masks.float().sigmoid())[0].cpu()
    logits = tensor(LOGITS_OUTPUTS[0])
    if logits is None or logits.ndim != 4:
        raise GatewayError(f"model '{name}' gives no per-pixel class logits")
    return logits[0].float().cpu()


# ------------------------------------------------------------------------ postprocess
def class_names(loaded: LoadedModel, count: int) -> tuple[str, ...]:
    """Class names from the model's ``config.id2label`` (ids 0..count-1)."""
    id2label = loaded.config.get("id2label") or {}
    return tuple(str(id2label.get(str(i), id2label.get(i, f"class {i}"))) for i in range(count))


def segment_image(
    image: Image, model: str, ctx: Context, precision: str = "fp32", runtime: str = "torch"
) -> Segments:
    """The whole pipeline: load → preprocess → forward → postprocess, with progress."""
    ctx.progress(0.0, f"segmentation model {model}")
    if is_selfie(model):
        return segment_selfie(image, resolve_selfie(model, ctx), ctx)
    chosen = choose(runtime)
    loaded = load(model, ctx, "fp32" if chosen != "torch" else torch_precision(precision))
    ctx.check_cancelled()
    x, valid = preprocess(np.asarray(image.pixels), loaded.preprocessor)
    ctx.progress(0.2, f"segmenting at {x.shape[3]}×{x.shape[2]}")
    scores = None
    if chosen != "torch":
        query = str(loaded.config.get("model_type", "")) in _QUERY_MODELS
        got = run_compiled(
            model,
            loaded.task,
            as_numpy(x),
            runtime=chosen,
            precision=precision,
            outputs=QUERY_OUTPUTS if query else LOGITS_OUTPUTS,
            ctx=ctx,
            progress_at=0.2,
        )
        if got is not None:
            scores = scores_from(got.get, loaded.name)
        else:
            loaded = load(model, ctx, torch_precision(precision))
    if scores is None:
        scores = forward(loaded, x)
    ctx.check_cancelled()
    # The score grid covers the padded input; only the valid part covers the image.
    sh, sw = scores.shape[1] / x.shape[2], scores.shape[2] / x.shape[3]
    h, w = image.size
    message = f"upsampling class scores to {w}×{h}"
    ctx.progress(0.7, message)
    labels = upsample_argmax(
        scores,
        (h, w),
        valid=(valid[0] * sh, valid[1] * sw),
        progress=lambda f: ctx.progress(0.7 + 0.29 * f, message),
    )
    return Segments(labels, class_names(loaded, int(scores.shape[0])))
