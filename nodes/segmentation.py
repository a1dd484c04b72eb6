"""Segmentation: per-pixel class labels (``Segments``), class masks, and a subject mask.

``segment.semantic`` runs a transformers semantic-segmentation model (SegFormer by
default; any SegFormer/BEiT/DPT/UperNet-style model that outputs class logits, and
Mask2Former/MaskFormer semantic checkpoints) loaded through the model store
(``gateway_studio.engine.models``: local files only, safetensors only).

The model is split like a transformers pipeline: ``preprocess`` (numpy/torch, following
the folder's ``preprocessor_config.json``: resize, rescale, ImageNet normalisation,
padding) → ``forward`` (the only step on the device) → ``postprocess`` (class scores
upsampled *bilinearly* to the input's full size, then argmax — done in row strips, so a
150-class model on a 24-megapixel photo never holds a full-size score volume).

``mediapipe-selfie`` (or a path to a ``.tflite``) runs MediaPipe's 250 KB person
segmentation through OpenCV's TFLite importer instead: classes background and person.

``segment.subject`` turns class masks into one subject, refined by depth (see its help).
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

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
    ModelMissingError,
    Range,
    Segments,
    node,
)

from ._filters import same_size
from ._runtime import (
    PrecisionParam,
    RuntimeParam,
    as_numpy,
    choose,
    in_model_worker,
    run_compiled,
    torch_precision,
)

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
#: MediaPipe's person ("selfie") segmentation: one small TFLite file run by OpenCV's dnn.
SELFIE = "mediapipe-selfie"
SELFIE_FILE = "selfie_segmentation.tflite"
SELFIE_LABELS = ("background", "person")
#: Query-based models: per-query class scores × per-query masks, not per-pixel logits.
_QUERY_MODELS = ("mask2former", "maskformer")
#: Upsampling works in strips of at most this many score values (float32: 4 bytes each).
_STRIP_VALUES = 1 << 24
#: Classes interpolated per cell at most; cells with more are done with every class.
_MAX_CANDIDATES = 6
#: PIL resample codes in preprocessor configs → torch interpolation modes.
_RESAMPLE = {0: "nearest", 1: "bilinear", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bicubic"}

ModelName = Annotated[
    str,
    Choices(MODEL_CHOICES),
    Help(
        "Segmentation model: a catalogue name, a Hugging Face hub id or a local folder "
        "(config.json + safetensors); missing weights: `gateway-studio models pull NAME`. "
        "mediapipe-selfie (or a path to a .tflite file): MediaPipe's 250 KB person "
        "segmentation, classes background and person"
    ),
]
Precision = Annotated[
    Literal["fp32", "bf16"],
    Help(
        "Model arithmetic: fp32, or bf16 (faster on recent CPUs and GPUs, tiny differences); "
        "transformers models only"
    ),
]


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
def _source_index(out_len: int, in_len: int, scale: float) -> tuple[Any, Any, Any]:
    """PyTorch's bilinear (align_corners=False) source indices and weights along one axis."""
    import torch

    src = (torch.arange(out_len, dtype=torch.float64) + 0.5) * scale - 0.5
    src = src.clamp(min=0.0)
    i0 = src.floor().long().clamp(max=in_len - 1)
    i1 = (i0 + 1).clamp(max=in_len - 1)
    w1 = (src - i0.double()).clamp(0.0, 1.0).float()
    return i0, i1, w1


def upsample_argmax(
    scores: Any,
    size: tuple[int, int],
    *,
    valid: tuple[float, float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> NDArray[np.int32]:
    """Bilinearly upsample class scores (C, h, w) to ``size`` and take the argmax.

    Gives exactly ``F.interpolate(scores, size, mode="bilinear", align_corners=False)``
    followed by argmax, without upsampling all C classes at full size. Inside one grid
    cell a bilinear value lies between its four corners, and any convex mix of classes
    bounds the winner from below; so a class whose largest corner is below that bound can
    never win in the cell. Most cells keep a handful of candidates, which are interpolated
    in row strips; the few cells with more (class boundaries of a noisy model) are done
    with every class. ``valid`` is the part of the score grid (score pixels, may be
    fractional) that covers the image; the rest is padding.
    """
    import torch

    _, h, w = (int(v) for v in scores.shape)
    out_h, out_w = size
    vh, vw = valid if valid is not None else (float(h), float(w))
    # Indices stop at the last grid cell that covers the image: padding never leaks in.
    lim_h, lim_w = min(h, math.ceil(vh)), min(w, math.ceil(vw))
    y0, _, wy = _source_index(out_h, lim_h, vh / out_h)
    x0, _, wx = _source_index(out_w, lim_w, vw / out_w)
    grid = scores[:, :lim_h, :lim_w].float()
    y_next = (torch.arange(lim_h) + 1).clamp(max=lim_h - 1)
    x_next = (torch.arange(lim_w) + 1).clamp(max=lim_w - 1)
    below = grid.index_select(1, y_next)
    corners = torch.stack(
        (grid, grid.index_select(2, x_next), below, below.index_select(2, x_next))
    )  # (4, C, h, w): the four corners of each cell, per class
    high = corners.amax(dim=0)
    # Lower bounds of the winning score in each cell: the best single class's smallest
    # corner, and the smallest corner of the mean of the classes winning at the corners.
    floor = corners.amin(dim=0).amax(dim=0)
    winners = corners.argmax(dim=1)  # (4, h, w)
    mixed = torch.stack([corners[j].gather(0, winners) for j in range(4)]).mean(dim=1)
    floor = torch.maximum(floor, mixed.amin(dim=0))
    count = (high >= floor).sum(dim=0)
    # Cells with one candidate have one label throughout: a lookup, no arithmetic.
    cell_labels = high.argmax(dim=0).to(torch.int32)
    labels = cell_labels.index_select(0, y0).index_select(1, x0)  # (H, W)
    mixed_pixels = (count > 1).index_select(0, y0).index_select(1, x0)
    py, px = mixed_pixels.nonzero(as_tuple=True)
    k = int(min(int(count.max()), _MAX_CANDIDATES))
    # Candidates in class order, so ties go to the lowest class id as in a full argmax.
    candidates = high.topk(k, dim=0).indices.sort(dim=0).values  # (k, h, w)
    total = int(py.numel())
    step = max(1, _STRIP_VALUES // int(corners.shape[1]))
    for start in range(0, total, step):
        cy, cx = y0[py[start : start + step]], x0[px[start : start + step]]
        a, b = wy[py[start : start + step]], wx[px[start : start + step]]
        few = count[cy, cx] <= k
        # up to k candidates: interpolate only those
        ids = candidates[:, cy, cx]  # (k, n)
        at = (ids, cy[None], cx[None])
        top = corners[0][at] * (1 - b) + corners[1][at] * b
        bottom = corners[2][at] * (1 - b) + corners[3][at] * b
        best = (top * (1 - a) + bottom * a).argmax(dim=0, keepdim=True)
        chosen = ids.gather(0, best)[0].to(torch.int32)
        if not bool(few.all()):  # more candidates than that: every class, these pixels
            hy, hx, ha, hb = cy[~few], cx[~few], a[~few], b[~few]
            full = (corners[0][:, hy, hx] * (1 - hb) + corners[1][:, hy, hx] * hb) * (1 - ha)
            full += (corners[2][:, hy, hx] * (1 - hb) + corners[3][:, hy, hx] * hb) * ha
            chosen[~few] = full.argmax(dim=0).to(torch.int32)
        labels[py[start : start + step], px[start : start + step]] = chosen
        if progress is not None:
            progress(min(start + step, total) / max(total, 1))
    return labels.numpy()


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


# ------------------------------------------------------------------------ MediaPipe selfie
def is_selfie(name: str) -> bool:
    return name.strip().lower() == SELFIE or name.strip().lower().endswith(".tflite")


def resolve_selfie(name: str, ctx: Context) -> Path:
    """The selfie model file through the model store (``models.resolve_file``): a .tflite
    path given as the model, else the models folders."""
    from gateway_studio.engine import models

    explicit = ctx.resolve_path(name.strip()) if name.strip().lower().endswith(".tflite") else None
    try:
        return models.resolve_file(SELFIE, explicit).path
    except ModelMissingError as exc:
        if explicit is not None:  # the user named a file: that file, or an error
            raise
        raise ModelMissingError(f"{exc}. Or set 'model' to the path of the .tflite file.") from None


def segment_selfie(image: Image, path: Path, ctx: Context) -> Segments:
    """MediaPipe selfie segmentation through OpenCV's TFLite importer (no extra runtime).

    The model takes RGB in [0, 1] at 256×256 (the landscape variant 144×256), stretched;
    its person probability is upsampled like class scores: bilinear, then > 0.5.
    """
    import cv2
    import torch

    try:
        net = cv2.dnn.readNetFromTFLite(str(path))
    except cv2.error as exc:
        raise GatewayError(f"{path}: OpenCV cannot read this TFLite model ({exc})") from None
    th, tw = (144, 256) if "landscape" in path.name.lower() else (256, 256)
    h, w = image.size
    pixels = np.asarray(image.pixels, dtype=np.float32)
    shrink = cv2.INTER_AREA if h * w > th * tw else cv2.INTER_LINEAR
    small = np.asarray(cv2.resize(pixels, (tw, th), interpolation=shrink), dtype=np.float32)
    ctx.progress(0.2, f"segmenting at {tw}×{th} (MediaPipe selfie)")
    net.setInput(np.ascontiguousarray(small.transpose(2, 0, 1)[None]))
    try:
        prob = np.asarray(net.forward(), dtype=np.float32).reshape(th, tw)
    except cv2.error as exc:
        raise GatewayError(
            f"{path}: not a selfie segmentation model OpenCV can run ({exc})"
        ) from None
    ctx.check_cancelled()
    scores = torch.from_numpy(np.stack([1.0 - prob, prob]))
    message = f"upsampling the person probability to {w}×{h}"
    ctx.progress(0.7, message)
    labels = upsample_argmax(
        scores, (h, w), progress=lambda f: ctx.progress(0.7 + 0.29 * f, message)
    )
    return Segments(labels, SELFIE_LABELS)


# ------------------------------------------------------------------------ classes
def parse_classes(text: str, names: Sequence[str], *, source: str = "") -> list[int]:
    """Comma-separated class names → label ids (case-insensitive); clear errors."""
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    if not wanted:
        raise GatewayError("no class chosen: set 'classes' to names such as 'person'")
    lowered = [n.lower() for n in names]
    ids: list[int] = []
    for item in wanted:
        hits = [i for i, n in enumerate(lowered) if n == item.lower()]
        if not hits:
            close = difflib.get_close_matches(item.lower(), lowered, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            some = ", ".join(names[:8])
            where = f" in {source}" if source else ""
            raise GatewayError(
                f"unknown class '{item}'{where}.{hint} Valid classes include: {some}, … "
                f"({len(names)} in all)"
            )
        ids.extend(hits)
    return ids


# ------------------------------------------------------------------------ the nodes
# version 2: the runtime param (OpenVINO / ONNX Runtime), precision auto.
@node(
    "segment.semantic",
    outputs={"segments": Segments, "mask": Mask},
    proxy=False,
    identity=model_identity,
    version=2,
)
def semantic(
    image: Image,
    *,
    model: ModelName = DEFAULT_MODEL,
    runtime: RuntimeParam = "auto",
    precision: PrecisionParam = "auto",
    classes: Annotated[
        str, Help("Comma-separated class names for the mask output, e.g. 'person, car'")
    ] = "person",
    ctx: Context,
) -> dict[str, Segments | Mask]:
    """Label every pixel with a class (SegFormer by default) and mask the chosen classes.

    Segments are at the input's full size, class names from the model's config; the mask
    holds the pixels of the classes named in 'classes'.
    """
    params = {"model": model, "runtime": runtime, "precision": precision, "classes": classes}
    remote = in_model_worker("segment.semantic", {"image": image}, params, ctx)
    if remote is not None:  # the app: computed in the model worker
        return {"segments": cast(Segments, remote["segments"]), "mask": cast(Mask, remote["mask"])}
    segments = segment_image(image, model, ctx, precision, runtime)
    ids = parse_classes(classes, segments.names, source=f"model '{model}'")
    mask = Mask.from_bool(np.isin(segments.labels, ids))
    found = sorted({segments.names[i] for i in np.unique(segments.labels[mask.values > 0])})
    ctx.progress(1.0, f"mask: {', '.join(found)}" if found else "mask: none of the classes found")
    return {"segments": segments, "mask": mask}


def _components(mask: NDArray[np.bool_]) -> tuple[int, NDArray[np.int32], NDArray[np.int64]]:
    """8-connected components: (count incl. background 0, label map, pixel counts)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    areas = np.asarray(stats[:, cv2.CC_STAT_AREA], dtype=np.int64)
    return int(count), np.asarray(labels, dtype=np.int32), areas


def pick_subject(
    candidates: NDArray[np.bool_],
    depth: NDArray[np.float32] | None,
    *,
    min_area: float,
    tolerance: float,
) -> NDArray[np.bool_] | None:
    """Among the connected regions of ``candidates``, the subject; None if none is large.

    Large = at least ``min_area`` of the image. With depth: the nearest large region (by
    mean Depth, 1 = near), plus any other large region within ``tolerance`` of its depth
    (two people side by side). Without depth: the largest region.
    """
    count, labels, areas = _components(candidates)
    if count <= 1:
        return None
    large = [i for i in range(1, count) if areas[i] >= min_area * candidates.size]
    if not large:
        return None
    if depth is None:
        best = max(large, key=lambda i: areas[i])
        return np.asarray(labels == best)
    sums = np.bincount(labels.ravel(), weights=depth.ravel(), minlength=count)
    means = sums / np.maximum(areas, 1)
    nearest = max(means[i] for i in large)
    keep = [i for i in large if means[i] >= nearest - tolerance]
    return np.isin(labels, keep)


def _otsu(values: NDArray[np.float32]) -> float:
    """Otsu's threshold of values in [0, 1] (256 bins)."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(np.float64)
    total = weight[-1]
    mean_cum = np.cumsum(hist * centres)
    w0, w1 = weight[:-1], total - weight[:-1]
    ok = (w0 > 0) & (w1 > 0)
    m0 = np.where(ok, mean_cum[:-1] / np.maximum(w0, 1), 0)
    m1 = np.where(ok, (mean_cum[-1] - mean_cum[:-1]) / np.maximum(w1, 1), 0)
    between = np.where(ok, w0 * w1 * (m0 - m1) ** 2, -1)
    return float(edges[1:][int(np.argmax(between))])


#: A depth layer counts as an object when its rim is at least this much nearer than the
#: ring just outside it (a real depth edge, not a cut through a smooth surface).
_EDGE_CONTRAST = 0.08
#: Width of the rims compared, as a fraction of the shorter side (model edges are soft).
_RIM = 0.01


def edge_contrast(region: NDArray[np.bool_], depth: NDArray[np.float32]) -> float:
    """Mean depth of the region's inner rim minus that of the ring just outside it."""
    import cv2

    k = max(1, round(_RIM * min(region.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    u8 = region.astype(np.uint8)
    outer = (cv2.dilate(u8, kernel) > 0) & ~region
    # Replicated borders: the image's edge is not an edge of the region.
    inner = region & ~(cv2.erode(u8, kernel, borderType=cv2.BORDER_REPLICATE) > 0)
    if not outer.any() or not inner.any():
        return 0.0
    return float(depth[inner].mean() - depth[outer].mean())


def nearest_depth_region(
    depth: NDArray[np.float32], *, min_area: float, tolerance: float
) -> NDArray[np.bool_]:
    """The nearest large object of a depth map, with no class information.

    Splits the depth histogram in two (Otsu) and keeps the nearest large connected region
    of the near side (``pick_subject``); repeats inside it while the new region is still
    large and bounded by a depth edge (its rim at least 0.08 nearer than the ring around
    it). A split through a smooth surface (the front of a ball) has no such edge and
    ends the search, so the whole object is kept.
    """
    region = np.ones(depth.shape, dtype=bool)
    best: NDArray[np.bool_] | None = None
    for _ in range(8):  # each split halves the histogram: a few rounds are enough
        values = depth[region]
        if values.size < 2 or float(values.max() - values.min()) < _EDGE_CONTRAST:
            break
        t = _otsu(values)
        candidate = region & (depth >= t)
        picked = pick_subject(candidate, depth, min_area=min_area, tolerance=tolerance)
        if picked is None or edge_contrast(picked, depth) < _EDGE_CONTRAST:
            break
        region, best = picked, picked
    if best is None:  # no depth edge anywhere: the near side of one split
        t = _otsu(depth.ravel())
        best = pick_subject(depth >= t, depth, min_area=0.0, tolerance=tolerance)
    return best if best is not None else np.ones(depth.shape, dtype=bool)


def feathered(mask: NDArray[np.bool_], feather: float) -> NDArray[np.float32]:
    """A soft version of a mask: Gaussian blur with sigma = feather × shorter side."""
    import cv2

    soft = mask.astype(np.float32)
    sigma = feather * min(mask.shape)
    if sigma > 0.25:
        blurred = cv2.GaussianBlur(
            soft, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE
        )
        soft = np.asarray(blurred, dtype=np.float32)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


@node(
    "segment.subject",
    outputs={"mask": Mask, "field": Field},
    proxy=False,
    identity=model_identity,
    version=2,  # v2: a depth map of another photo is refused, not stretched
)
def subject(
    image: Image,
    depth: Depth | None = None,
    segments: Segments | None = None,
    *,
    mode: Annotated[
        Literal["auto", "classes", "depth"],
        Help(
            "classes: regions of the chosen classes, the nearest large one (empty if none); "
            "depth: the nearest large depth layer, no model; auto: classes, falling back to "
            "depth when no large region of those classes is found (the message says so)"
        ),
    ] = "auto",
    model: ModelName = DEFAULT_MODEL,
    precision: Precision = "fp32",
    classes: Annotated[
        str, Help("Comma-separated classes that can be the subject, e.g. 'person, dog'")
    ] = "person",
    min_area: Annotated[
        float,
        Range(0.0, 0.5, 0.001),
        Help("Regions smaller than this fraction of the image are never the subject"),
    ] = 0.01,
    depth_tolerance: Annotated[
        float,
        Range(0.0, 1.0, 0.01),
        Help("Also keep large regions whose mean depth is this close to the nearest one's"),
    ] = 0.05,
    feather: Annotated[
        float,
        Range(0.0, 0.1, 0.001),
        Help("Soft edge of the field output, as a fraction of the image's shorter side"),
    ] = 0.01,
    ctx: Context,
) -> dict[str, Mask | Field]:
    """The subject of a photo as a mask and a feathered field, refined by depth.

    Candidates are the connected regions of the chosen classes (from the Segments input
    if connected, else from the model); with a Depth input the nearest large region wins
    (mean depth over the region), without one the largest. Mode 'depth' needs a Depth.
    """
    h, w = image.size
    depth_values: NDArray[np.float32] | None = None
    if depth is not None:
        depth_values = same_size(depth.values, (h, w), "the depth map")
    if mode == "depth" and depth_values is None:
        raise GatewayError("mode 'depth' needs a Depth input: connect one, or use 'classes'")

    picked: NDArray[np.bool_] | None = None
    if mode in ("auto", "classes"):
        source = model
        if segments is None:
            segments = segment_image(image, model, ctx, precision)
        else:  # decomposed once upstream: no inference here
            source = "the Segments input"
            if segments.size != (h, w):
                segments = segments.resized(h, w)
        ids = parse_classes(classes, segments.names, source=source)
        candidates = np.isin(segments.labels, ids)
        picked = pick_subject(
            candidates, depth_values, min_area=min_area, tolerance=depth_tolerance
        )
        if picked is not None:
            how = "nearest large" if depth_values is not None else "largest"
            ctx.progress(1.0, f"subject: the {how} '{classes}' region")
        elif mode == "classes":
            ctx.progress(1.0, f"no large '{classes}' region: the subject mask is empty")
    if picked is None and mode != "classes":
        if depth_values is None:
            ctx.progress(1.0, f"no large '{classes}' region and no Depth input: mask is empty")
        else:
            picked = nearest_depth_region(
                depth_values, min_area=min_area, tolerance=depth_tolerance
            )
            prefix = "" if mode == "depth" else f"no large '{classes}' region; "
            ctx.progress(1.0, f"{prefix}subject: the nearest large depth region")
    result = picked if picked is not None else np.zeros((h, w), dtype=bool)
    return {"mask": Mask.from_bool(result), "field": Field(feathered(result, feather))}
