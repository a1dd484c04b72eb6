"""Segmentation: per-pixel class labels (``Segments``), class masks, and a subject mask.

``segment.semantic`` runs a transformers semantic-segmentation model (SegFormer by
default; any SegFormer/BEiT/DPT/UperNet-style model that outputs class logits, and
Mask2Former/MaskFormer semantic checkpoints) loaded through the model store
(``gateway_studio.engine.models``: local files only, safetensors only).

The model is split like a transformers pipeline: ``preprocess`` (numpy/torch, following
the folder's ``preprocessor_config.json``: resize, rescale, ImageNet normalisation,
padding) → ``forward`` (the only step on the device) → ``postprocess`` (class scores
upsampled *bilinearly* to the input's full size, then argmax — done in row strips, so a
150-class model on a 24-megapixel photo never holds a full-size score volume). Those
steps live in ``nodes/_segmodels.py`` (the upsampling in ``nodes/_seg_upsample.py``).

``mediapipe-selfie`` (or a path to a ``.tflite``) runs MediaPipe's 250 KB person
segmentation through OpenCV's TFLite importer instead: classes background and person
(``nodes/_selfie.py``).

``segment.subject`` turns class masks into one subject, refined by depth (see its help;
the region picking is ``nodes/_subject.py``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Annotated, Literal, cast

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
    node,
)

from ._filters import same_size
from ._runtime import PrecisionParam, RuntimeParam, in_model_worker
from ._segmodels import DEFAULT_MODEL, MODEL_CHOICES, model_identity, segment_image
from ._subject import feathered, nearest_depth_region, pick_subject

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
