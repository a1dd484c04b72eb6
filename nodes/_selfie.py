"""MediaPipe's person ("selfie") segmentation for ``segment.semantic`` and
``segment.subject``: one 250 KB TFLite file (``mediapipe-selfie``, or a path to a
``.tflite``) run through OpenCV's TFLite importer, no extra runtime; classes background
and person.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gateway_studio.engine import Context, GatewayError, Image, ModelMissingError, Segments

from ._seg_upsample import upsample_argmax

#: MediaPipe's person ("selfie") segmentation: one small TFLite file run by OpenCV's dnn.
SELFIE = "mediapipe-selfie"
SELFIE_FILE = "selfie_segmentation.tflite"
SELFIE_LABELS = ("background", "person")


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
