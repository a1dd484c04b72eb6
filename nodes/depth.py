"""Depth: estimating and reading inverse depth (the ``Depth`` slot; 1 = nearest)."""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import (
    Choices,
    Context,
    Depth,
    Field,
    GatewayError,
    Help,
    Image,
    Mask,
    Range,
    Segments,
    When,
    models,
    node,
)

from ._depth_resize import refine_edges
from ._runtime import (
    PrecisionParam,
    RuntimeParam,
    as_numpy,
    choose,
    in_model_worker,
    run_compiled,
    torch_precision,
)

# ----------------------------------------------------------------------------- depth.estimate
#: Model suggestions: Depth-Anything-V2 Small/Base/Large first, then DPT-Hybrid, ZoeDepth.
DEPTH_MODELS: tuple[str, ...] = tuple(m.name for m in models.known_models("depth-estimation"))


@dataclass(frozen=True)
class Preprocessing:
    """How a model wants its input, read from its ``preprocessor_config.json``."""

    #: Target (height, width) before aspect handling, e.g. (518, 518).
    size: tuple[int, int]
    keep_aspect_ratio: bool
    multiple: int
    mode: str  # torch interpolate mode: "bicubic", "bilinear", "nearest"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    #: DPT: centre zero-pad to a multiple of this after normalising (0 = off).
    pad_divisor: int = 0
    #: ZoeDepth: reflect-pad the photo by int(sqrt(side / 2) * 3) before resizing.
    zoe_pad: bool = False
    align_corners: bool = False
    antialias: bool = True

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], model_type: str = "", resolution: int = 0
    ) -> Preprocessing:
        zoe = model_type == "zoedepth" or "ZoeDepth" in str(config.get("image_processor_type"))
        raw_size = config.get("size") or {}
        if isinstance(raw_size, int):
            h = w = raw_size
        else:
            h = int(raw_size.get("height") or raw_size.get("shortest_edge") or 518)
            w = int(raw_size.get("width") or raw_size.get("shortest_edge") or h)
        if resolution > 0:  # the short side of the target becomes ``resolution``
            scale = resolution / min(h, w)
            h, w = round(h * scale), round(w * scale)
        multiple = config.get("ensure_multiple_of") or 1
        # ZoeDepth's class default is 1/32 (a quirk); hub configs say 32.
        multiple = max(1, round(1 / multiple) if multiple < 1 else int(multiple))
        resample = int(config.get("resample", 2 if zoe else 3))
        mode = {0: "nearest", 2: "bilinear", 3: "bicubic"}.get(resample, "bicubic")
        mean = tuple(config.get("image_mean") or (0.485, 0.456, 0.406))
        std = tuple(config.get("image_std") or (0.229, 0.224, 0.225))
        if not config.get("do_normalize", True):
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        pad = config.get("do_pad", zoe)
        return cls(
            size=(h, w),
            keep_aspect_ratio=bool(config.get("keep_aspect_ratio", False)),
            multiple=multiple,
            mode=mode,
            mean=(float(mean[0]), float(mean[1]), float(mean[2])),
            std=(float(std[0]), float(std[1]), float(std[2])),
            pad_divisor=int(config.get("size_divisor") or 0) if pad and not zoe else 0,
            zoe_pad=bool(pad) and zoe,
            align_corners=zoe,  # ZoeDepth's processor resizes with align_corners=True
            antialias=not zoe,  # DPT's resizes through PIL, which antialiases
        )

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """The model input size for a (height, width) photo (DPT's resize rule)."""
        scale_h, scale_w = self.size[0] / height, self.size[1] / width
        if self.keep_aspect_ratio:  # scale as little as possible
            if abs(1 - scale_w) < abs(1 - scale_h):
                scale_h = scale_w
            else:
                scale_w = scale_h

        def snap(value: float) -> int:
            out = round(value / self.multiple) * self.multiple
            return int(out if out > 0 else math.ceil(value / self.multiple) * self.multiple)

        return snap(scale_h * height), snap(scale_w * width)


@dataclass(frozen=True)
class Prepared:
    pixel_values: Any  # torch.Tensor (1, 3, h, w), float32
    #: Fractions of the model output to crop (top, bottom, left, right) — the padding.
    crop: tuple[float, float, float, float]
    source_size: tuple[int, int]


def preprocess(pixels: NDArray[np.float32], prep: Preprocessing) -> Prepared:
    """Photo (H, W, 3) sRGB floats → the normalised tensor the model card asks for."""
    import torch
    import torch.nn.functional as F

    height, width = pixels.shape[:2]
    # A private copy: slot arrays are read-only and torch wants writable memory.
    x = torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    crop = (0.0, 0.0, 0.0, 0.0)
    if prep.zoe_pad:
        ph, pw = int(math.sqrt(height / 2) * 3), int(math.sqrt(width / 2) * 3)
        x = F.pad(x, (pw, pw, ph, ph), mode="reflect")
        padded_h, padded_w = height + 2 * ph, width + 2 * pw
        crop = (ph / padded_h, ph / padded_h, pw / padded_w, pw / padded_w)
        height, width = padded_h, padded_w
    h, w = prep.input_size(height, width)
    antialias = prep.antialias and prep.mode in ("bilinear", "bicubic")
    x = F.interpolate(
        x,
        size=(h, w),
        mode=prep.mode,
        antialias=antialias,
        **({} if prep.mode == "nearest" else {"align_corners": prep.align_corners}),
    )
    if not prep.zoe_pad:
        x = x.clamp_(0.0, 1.0)  # PIL resizes 8-bit images: no overshoot
    mean = torch.tensor(prep.mean, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=x.dtype).view(1, 3, 1, 1)
    x = (x - mean) / std
    if prep.pad_divisor > 1:
        ph = math.ceil(h / prep.pad_divisor) * prep.pad_divisor - h
        pw = math.ceil(w / prep.pad_divisor) * prep.pad_divisor - w
        top, left = ph // 2, pw // 2
        x = F.pad(x, (left, pw - left, top, ph - top))
        crop = (top / (h + ph), (ph - top) / (h + ph), left / (w + pw), (pw - left) / (w + pw))
    return Prepared(x.contiguous(), crop, pixels.shape[:2])


#: Models whose DPT neck/head already run channels-last (once per loaded model).
_channels_last_done: weakref.WeakSet[Any] = weakref.WeakSet()
_channels_last_lock = threading.Lock()


def use_channels_last(loaded: models.LoadedModel) -> None:
    """Store the neck/head convolution weights channels-last, once per loaded model.

    On the CPU oneDNN runs these 3x3 convolutions (the DPT neck's fusion stages and the
    head's full-resolution conv) 1.5x (fp32) to 2-3x (bf16) faster in NHWC than in NCHW:
    the same sums in a different memory order, so the output matches the plain model to
    float rounding (measured on Small, 1920x1080 photo: max |diff| 1e-6 of the output's
    max, Pearson r 1.000000), about 0.1 s less per photo at 2 threads. The ViT backbone
    has no such convolutions and is left alone. Idempotent; costs milliseconds."""
    import torch

    if loaded.device != "cpu":
        return
    model = loaded.model
    with _channels_last_lock:
        if model in _channels_last_done:
            return
        for part in ("neck", "head"):  # DPT and Depth-Anything have both; ZoeDepth a neck
            module = getattr(model, part, None)
            if isinstance(module, torch.nn.Module):
                # Module.to takes memory_format (documented); torch's stubs omit it.
                module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        _channels_last_done.add(model)


def forward(
    loaded: models.LoadedModel, prepared: Prepared, *, optimise: bool = True
) -> NDArray[np.float32]:
    """Run the model (the only step on the device); the raw output, cropped of padding.

    ``optimise`` (the default) first lays out the neck/head convolutions channels-last
    (``use_channels_last``); False runs the model exactly as loaded (tests compare both).
    A model that has been optimised stays so: ``optimise=False`` does not undo it."""
    import torch

    if optimise:
        use_channels_last(loaded)
    with torch.inference_mode():
        x = prepared.pixel_values.to(loaded.device, loaded.dtype)
        out = loaded.model(pixel_values=x).predicted_depth
        raw = out.float().reshape(out.shape[-2], out.shape[-1]).cpu().numpy()
    return crop_padding(raw, prepared)


def crop_padding(raw: NDArray[np.float32], prepared: Prepared) -> NDArray[np.float32]:
    """The model output (h, w) without the padding the preprocessing added."""
    raw = raw.reshape(raw.shape[-2], raw.shape[-1])
    h, w = raw.shape
    top, bottom, left, right = prepared.crop
    t, b = round(top * h), h - round(bottom * h)
    left_px, right_px = round(left * w), w - round(right * w)
    return np.ascontiguousarray(raw[t:b, left_px:right_px], dtype=np.float32)


def upsample(raw: NDArray[np.float32], size: tuple[int, int]) -> NDArray[np.float32]:
    """Bicubic resize of a model output to the photo's size (as transformers does it)."""
    import torch
    import torch.nn.functional as F

    if raw.shape == size:
        return raw.copy()
    t = torch.from_numpy(np.ascontiguousarray(raw))[None, None]
    out = F.interpolate(t, size=size, mode="bicubic", align_corners=False)
    return np.asarray(out[0, 0].numpy(), dtype=np.float32)


# version 2: the neck/head run channels-last (same sums in another order: raw output moves
# by float rounding only, ~1e-10), so results cached by version 1 are recomputed.
def model_identity(params: Mapping[str, Any], ctx: Context) -> str:
    """Cache-key identity of the ``model`` param: the weights it resolves to now, so
    replaced weights never serve a stale Depth."""
    name = str(params.get("model", ""))
    if models.looks_like_path(name):
        name = str(ctx.resolve_path(name))
    return models.identity(name)


# version 3: the runtime param (OpenVINO / ONNX Runtime), precision auto.
@node(
    "depth.estimate",
    outputs={"depth": Depth},
    proxy=False,
    version=3,
    identity=model_identity,
)
def estimate(
    image: Image,
    *,
    model: Annotated[
        str,
        Choices(DEPTH_MODELS),
        Help(
            "Depth model: a catalogue name, a Hugging Face hub id or a local model folder. "
            "Depth-Anything-V2 Small is fast (Apache-2.0); Base/Large are sharper "
            "(non-commercial licence); ZoeDepth gives metric depth. Weights must be local: "
            "gateway-studio models pull NAME"
        ),
    ] = "depth-anything-v2-small",
    resolution: Annotated[
        int,
        Range(0, 2058, 14),
        Help(
            "Size the model works at, in pixels (0 = the model's own, e.g. 518): a large "
            "photo is scaled so its short side is this. Higher is finer and slower; "
            "rounded to the model's multiple (14 for Depth-Anything)"
        ),
    ] = 0,
    runtime: RuntimeParam = "auto",
    precision: PrecisionParam = "auto",
    edge_refine: Annotated[
        bool,
        Help(
            "Snap the model's soft depth edges to the photo's edges while upsampling "
            "(colour guided filter); off = plain bicubic upsampling"
        ),
    ] = False,
    normalisation: Annotated[
        Literal["minmax", "percentile", "fixed"],
        Help(
            "How raw model output maps to [0, 1]: per-photo min–max, robust 1–99 "
            "percentiles, or a fixed range (fixed_far → 0, fixed_near → 1) so every frame "
            "of a batch or video maps alike and does not flicker"
        ),
    ] = "minmax",
    fixed_far: Annotated[
        float,
        Range(0, 1e4, 0.01),
        When("normalisation", "fixed"),
        Help(
            "normalisation 'fixed': the raw value that maps to 0 (farthest) — model units "
            "for relative models (see the raw range in the node's status), metres for "
            "metric models"
        ),
    ] = 0.0,
    fixed_near: Annotated[
        float,
        Range(0, 1e4, 0.01),
        When("normalisation", "fixed"),
        Help("normalisation 'fixed': the raw value that maps to 1 (nearest); metres if metric"),
    ] = 1.0,
    ctx: Context,
) -> Depth:
    """Estimate depth from a photo with a depth model (Depth-Anything-V2, DPT, ZoeDepth).

    Load → preprocess (resize keeping the aspect ratio to the model's multiple, ImageNet
    mean/std, both read from the model's preprocessor_config.json) → forward (on the
    device) → postprocess (crop padding, upsample to the photo's size, optional edge
    refinement). Relative models (larger = nearer) go through ``Depth.from_inverse``,
    metric ones (ZoeDepth) through ``Depth.from_metric``: the slot converts, the node never
    flips a sign. Missing weights fail at once, naming the ``models pull`` command.
    """
    if models.looks_like_path(model):  # a model folder: relative to the patch, like files
        model = str(ctx.resolve_path(model))
    models.resolve(model)  # missing weights fail at once, here, before any worker or torch
    params = {
        "model": model,
        "resolution": resolution,
        "runtime": runtime,
        "precision": precision,
        "edge_refine": edge_refine,
        "normalisation": normalisation,
        "fixed_far": fixed_far,
        "fixed_near": fixed_near,
    }
    remote = in_model_worker("depth.estimate", {"image": image}, params, ctx)
    if remote is not None:  # the app: computed in the model worker
        return cast(Depth, remote["depth"])
    ctx.progress(0.0, "loading model")
    pixels = image.srgb_pixels()  # what depth models were trained on
    raw, loaded = infer(model, pixels, resolution, runtime, precision, ctx)
    ctx.check_cancelled()
    ctx.progress(0.85, "upsampling")
    size = image.size
    full = upsample(raw, size)
    # Bicubic overshoot is not the model's: keep values within what it output.
    np.clip(full, float(raw.min()), float(raw.max()), out=full)
    if edge_refine:
        factor = max(size[0] / raw.shape[0], size[1] / raw.shape[1])
        full = refine_edges(full, pixels, factor)
    ctx.progress(1.0, f"done: raw model output {float(raw.min()):.4g} … {float(raw.max()):.4g}")
    convert = Depth.from_metric if loaded.output == "metric" else Depth.from_inverse
    if normalisation != "fixed":
        return convert(full, normalisation=normalisation)
    # fixed range (near, far): metres for metric models, raw model units otherwise; the
    # slot refuses a reversed or empty range with a message.
    return convert(full, normalisation="fixed", fixed_range=(fixed_near, fixed_far))


def infer(
    model: str,
    pixels: NDArray[np.float32],
    resolution: int,
    runtime: str,
    precision: str,
    ctx: Context,
) -> tuple[NDArray[np.float32], models.LoadedModel]:
    """Load → preprocess → forward on the chosen runtime: the raw output, cropped."""
    chosen = choose(runtime)
    loaded = models.load_model(
        model,
        task="depth-estimation",
        precision="fp32" if chosen != "torch" else torch_precision(precision),
        progress=lambda message: ctx.progress(0.05, message),
    )
    ctx.check_cancelled()
    ctx.progress(0.25, "preprocessing")
    prep = Preprocessing.from_config(
        loaded.preprocessor, str(loaded.config.get("model_type", "")), resolution
    )
    prepared = preprocess(pixels, prep)
    ctx.check_cancelled()
    if chosen != "torch":
        outputs = run_compiled(
            model,
            "depth-estimation",
            as_numpy(prepared.pixel_values),
            runtime=chosen,
            precision=precision,
            outputs=("predicted_depth",),
            ctx=ctx,
        )
        if outputs is not None:
            return crop_padding(outputs["predicted_depth"], prepared), loaded
        loaded = models.load_model(model, precision=torch_precision(precision))
    ctx.progress(0.3, "inference (torch)")
    return forward(loaded, prepared), loaded


# ----------------------------------------------------------------------------- depth.region
def region_statistics(
    values: NDArray[np.float32], labels: NDArray[np.int32], count: int, statistic: str
) -> NDArray[np.float64]:
    """Mean or median of ``values`` per label 0..count-1 (NaN for empty labels)."""
    flat_labels = labels.ravel()
    keep = flat_labels >= 0
    lab, val = flat_labels[keep], values.ravel()[keep].astype(np.float64)
    out = np.full(count, np.nan)
    if lab.size == 0:
        return out
    sizes = np.bincount(lab, minlength=count)
    if statistic == "mean":
        sums = np.bincount(lab, weights=val, minlength=count)
        np.divide(sums, sizes, out=out, where=sizes > 0)
        return out
    order = np.lexsort((val, lab))  # sorted by label, then value
    sorted_vals = val[order]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    present = sizes > 0
    lo = starts + (sizes - 1) // 2
    hi = starts + sizes // 2
    out[present] = 0.5 * (sorted_vals[lo[present]] + sorted_vals[hi[present]])
    return out


@node("depth.region", outputs={"field": Field, "depth": Depth})
def region(
    depth: Depth,
    regions: Segments | Mask,
    *,
    statistic: Annotated[
        Literal["mean", "median"],
        Help("Per-region value: the mean depth, or the median (ignores stray pixels)"),
    ] = "mean",
    outside: Annotated[
        Literal["keep", "zero"],
        Help(
            "Pixels in no region (unlabelled, or 0 in a mask): keep their own depth, "
            "or set them to 0 (= farthest)"
        ),
    ] = "keep",
) -> dict[str, Field | Depth]:
    """Flatten depth per region: each segment (or the mask) filled with its own mean depth.

    Model depth is smooth across object boundaries; a segmentation's regions are crisp.
    Filling each region with its mean (or median) depth gives crisp per-object depth.
    ``regions`` is a Segments label map (one value per label) or a Mask (one region: the
    1-pixels). Both outputs hold the same values: ``field`` for effects that take a Field,
    ``depth`` as a Depth slot (same convention, 1 = near) for nodes that take depth. The
    per-region values are what the viewer shows inside each region; pixels outside every
    region keep their depth (``outside`` = keep) or become 0.
    """
    values = np.asarray(depth.values, dtype=np.float32)
    if isinstance(regions, Segments):
        labels, count = np.asarray(regions.labels), len(regions.names)
    else:
        labels, count = np.where(np.asarray(regions.values) > 0.5, 0, -1).astype(np.int32), 1
    if labels.shape != values.shape:
        raise GatewayError(
            f"depth.region: regions are {labels.shape[1]}x{labels.shape[0]} but the depth is "
            f"{values.shape[1]}x{values.shape[0]}; both must come from the same photo"
        )
    # Holes (pixels without depth) take no part in any statistic: a region's value is
    # the mean/median of what was measured in it, and then holds for the whole region.
    measured = labels if depth.valid is None else np.where(depth.valid, labels, -1)
    stats = region_statistics(values, measured.astype(np.int32), count, statistic)
    lookup = np.concatenate((stats, [np.nan])).astype(np.float32)  # index -1 → NaN
    filled = lookup[labels]
    in_region = ~np.isnan(filled)
    fallback = values if outside == "keep" else np.zeros_like(values)
    out = np.clip(np.where(in_region, filled, fallback), 0.0, 1.0).astype(np.float32)
    valid = None if depth.valid is None else depth.valid | in_region
    if outside == "zero":
        valid = None  # outside pixels are set to 0 on purpose: a value, not a hole
    return {
        "field": Field(out),
        "depth": depth.derived(out, f"region-{statistic}", valid=valid),
    }
