"""Faces (FaceAnchor): where the faces are, how near each is, and soft masks to anchor on.

``faces.detect`` has two backends, chosen by the visible ``backend`` param and never
switched silently:

* ``bundled`` — scikit-image's LBP frontal-face cascade (ships inside scikit-image, works
  offline with no download). The cascade gives no confidence, so the node groups its raw
  hits itself (one face = one box) and scores each group by how many hits agree:
  ``score = n / (n + 8)`` (n = overlapping hits over positions and scales; 8 hits → 0.5).
  No landmarks.
* ``yunet`` — OpenCV's YuNet (``cv2.FaceDetectorYN``): a real confidence and five
  landmarks (right eye, left eye, nose tip, right and left mouth corner, as seen in the
  image). Weights ``face_detection_yunet_2023mar.onnx`` come from the ``weights`` path,
  the models folder (``GATEWAY_STUDIO_MODELS``) or the Hugging Face cache, found by the
  model store (catalogue name ``yunet``; ``gateway-studio models pull yunet`` fetches it).

Detection runs on a copy whose long side is at most ``detect_size`` pixels; boxes and
landmarks are mapped back to the input's pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import (
    Context,
    Depth,
    Face,
    Faces,
    Field,
    FilePath,
    GatewayError,
    Help,
    Image,
    ModelMissingError,
    Range,
    node,
)

from ._filters import same_size

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
#: Hugging Face repository of OpenCV's model zoo that holds the YuNet file.
YUNET_REPO = "opencv/face_detection_yunet"
#: Cascade hits that make a score of 0.5 (OpenCV's classic minNeighbors scale).
_HALF_SCORE_HITS = 8.0
#: Cascade step between scales; finer steps find more hits per face (and cost more).
_CASCADE_SCALE_STEP = 1.1
#: The LBP cascade's own window: nothing smaller can be found.
_CASCADE_WINDOW = 24
#: Two hits whose edges differ by at most this fraction of their size are one face.
_GROUP_EPS = 0.2
#: Grouped faces still overlapping by this much are one face (non-maximum suppression).
_NMS_OVERLAP = 0.3

Box = tuple[float, float, float, float]
Landmarks = tuple[tuple[float, float], ...]
#: One detection in detection-image pixels: (box, score, landmarks).
Detection = tuple[Box, float, Landmarks]


# ------------------------------------------------------------------------ box geometry
def _overlap_of_smaller(box: NDArray[np.float64], boxes: NDArray[np.float64]) -> Any:
    """Intersection area / area of the smaller box, between ``box`` and each of ``boxes``."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    smaller = np.minimum(box[2] * box[3], boxes[:, 2] * boxes[:, 3])
    return inter / np.maximum(smaller, 1e-9)


def _similar(box: NDArray[np.float64], boxes: NDArray[np.float64]) -> Any:
    """OpenCV's ``groupRectangles`` test: every edge within 20% of the smaller size.

    Stricter than plain overlap, so hits at very different scales do not chain into one
    group (a chained group would collect evidence it does not have)."""
    delta = _GROUP_EPS * 0.5 * (np.minimum(box[2], boxes[:, 2]) + np.minimum(box[3], boxes[:, 3]))
    return (
        (np.abs(box[0] - boxes[:, 0]) <= delta)
        & (np.abs(box[1] - boxes[:, 1]) <= delta)
        & (np.abs(box[0] + box[2] - boxes[:, 0] - boxes[:, 2]) <= delta)
        & (np.abs(box[1] + box[3] - boxes[:, 1] - boxes[:, 3]) <= delta)
    )


def group_hits(boxes: NDArray[np.float64]) -> list[tuple[NDArray[np.float64], int]]:
    """Group raw cascade hits (x, y, w, h) into faces: (mean box, number of hits).

    Similar hits are linked (union-find), so a face found at many neighbouring positions
    and scales becomes one group; the group's size is its evidence.
    """
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in np.nonzero(_similar(boxes[i], boxes))[0]:
            ri, rj = find(i), find(int(j))
            if ri != rj:
                parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [(boxes[idx].mean(axis=0), len(idx)) for idx in groups.values()]


def suppress(boxes: NDArray[np.float64], scores: NDArray[np.float64]) -> list[int]:
    """Non-maximum suppression: indices of the boxes kept, best score first.

    Overlap is measured against the smaller box, so a box nested inside a face's box
    (an eye found as a "face") is suppressed too, not only near-duplicates."""
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if order:
            rest = np.asarray(order)
            overlap = _overlap_of_smaller(boxes[best], boxes[rest])
            order = [int(i) for i, o in zip(rest, overlap, strict=True) if o < _NMS_OVERLAP]
    return keep


# ------------------------------------------------------------------------ backends
def _detect_bundled(gray: NDArray[np.float32], min_px: int) -> list[Detection]:
    """LBP cascade on a grayscale image → [(box, score, landmarks)] in its pixels."""
    from skimage import data
    from skimage.feature import Cascade

    h, w = gray.shape
    smallest = max(_CASCADE_WINDOW, min_px)
    largest = min(h, w)
    if smallest > largest:
        return []
    cascade = Cascade(data.lbp_frontal_face_cascade_filename())  # type: ignore[no-untyped-call]
    # One neighbour and a merge threshold above 1 return every raw hit: the cascade's own
    # merging gives no evidence count, and we need one for a score.
    hits = cascade.detect_multi_scale(
        img=gray,
        scale_factor=_CASCADE_SCALE_STEP,
        step_ratio=1,
        min_size=(smallest, smallest),
        max_size=(largest, largest),
        min_neighbor_number=1,
        intersection_score_threshold=1.01,
    )
    if not hits:
        return []
    raw = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in hits], dtype=np.float64)
    groups = group_hits(raw)
    boxes = np.array([g[0] for g in groups])
    scores = np.array([n / (n + _HALF_SCORE_HITS) for _, n in groups])
    return [
        (tuple(float(v) for v in boxes[i]), float(scores[i]), ())  # type: ignore[misc]
        for i in suppress(boxes, scores)
    ]


def resolve_yunet(weights: str, ctx: Context) -> Path:
    """The YuNet ONNX file through the model store (``models.resolve_file("yunet")``):
    the ``weights`` param, else the models folders, else the Hugging Face cache."""
    from gateway_studio.engine import models

    explicit = ctx.resolve_path(weights) if weights else None
    try:
        return models.resolve_file("yunet", explicit).path
    except ModelMissingError as exc:
        if explicit is not None:  # the user named a file: that file, or an error
            raise
        raise ModelMissingError(
            f"{exc}. Or set the node's 'weights' path to the .onnx file, or use backend "
            "'bundled' (no download)."
        ) from None


def _detect_yunet(rgb: NDArray[np.uint8], model: Path, min_score: float) -> list[Detection]:
    import cv2

    h, w = rgb.shape[:2]
    try:
        detector = cv2.FaceDetectorYN.create(str(model), "", (w, h), min_score, 0.3, 5000)
    except cv2.error as exc:
        raise GatewayError(f"{model}: OpenCV cannot load this YuNet model ({exc})") from None
    _, rows = detector.detect(np.ascontiguousarray(rgb[..., ::-1]))  # YuNet wants BGR
    if rows is None:
        return []
    out: list[Detection] = []
    for row in np.asarray(rows, dtype=np.float64):
        x, y, bw, bh = (float(v) for v in row[:4])
        marks = tuple((float(row[4 + 2 * k]), float(row[5 + 2 * k])) for k in range(5))
        out.append(((x, y, bw, bh), float(row[14]), marks))
    # YuNet runs its own NMS; ours also drops a box nested in another face's box.
    if len(out) > 1:
        keep = suppress(np.array([o[0] for o in out]), np.array([o[1] for o in out]))
        out = [out[i] for i in keep]
    return out


# ------------------------------------------------------------------------ fields
def ellipse_field(
    size: tuple[int, int], box: Sequence[float], *, feather: float, shrink: float = 1.0
) -> NDArray[np.float32]:
    """A soft ellipse inscribed in ``box``: 1 inside, falling to 0 at the ellipse's edge.

    ``feather`` is the width of the fall-off as a fraction of the radius (0 = hard edge);
    ``shrink`` scales the ellipse's radii."""
    h, w = size
    x, y, bw, bh = box
    cx, cy = x + bw / 2.0, y + bh / 2.0
    rx, ry = max(bw / 2.0 * shrink, 0.5), max(bh / 2.0 * shrink, 0.5)
    out = np.zeros((h, w), dtype=np.float32)
    # Only the box's rows/columns can be non-zero: evaluate there, not over the image.
    x0, x1 = max(int(np.floor(cx - rx)), 0), min(int(np.ceil(cx + rx)) + 1, w)
    y0, y1 = max(int(np.floor(cy - ry)), 0), min(int(np.ceil(cy + ry)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return out
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx) / rx
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy) / ry
    r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    if feather < 1e-6:  # no fall-off to speak of: a hard edge (and no 1/0)
        patch = (r <= 1.0).astype(np.float32)
    else:
        t = np.clip((1.0 - r) / feather, 0.0, 1.0)
        patch = (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # smoothstep: no hard ring
    out[y0:y1, x0:x1] = patch
    return out


def _mean_depth(
    depth: NDArray[np.float32], valid: NDArray[np.bool_] | None, box: Sequence[float]
) -> float | None:
    """Mean Depth over the measured pixels of the ellipse inscribed in the box (corners
    are hair/background); None when no pixel there has depth (a sensor hole)."""
    inside = ellipse_field(depth.shape, box, feather=0.0) > 0
    if not inside.any():  # a sliver of a box: its centre pixel
        x, y, bw, bh = box
        inside = np.zeros(depth.shape, dtype=bool)
        inside[
            min(max(int(y + bh / 2), 0), depth.shape[0] - 1),
            min(max(int(x + bw / 2), 0), depth.shape[1] - 1),
        ] = True
    if valid is not None:
        inside &= valid
    return float(depth[inside].mean()) if inside.any() else None


# ------------------------------------------------------------------------ the node
def weights_identity(params: Mapping[str, Any], ctx: Context) -> str:
    """Cache-key identity of YuNet's weights when they come from the store (an explicit
    ``weights`` path is already keyed by its bytes)."""
    if params.get("backend") != "yunet" or params.get("weights"):
        return ""
    from gateway_studio.engine import models

    return models.identity("yunet")


@node(
    "faces.detect",
    outputs={"faces": Faces, "nearest": Field, "farthest": Field},
    proxy=False,
    identity=weights_identity,
    label="Face Anchor",
    version=2,  # v2: a depth map of another photo is refused, not stretched
)
def detect(
    image: Image,
    depth: Depth | None = None,
    *,
    backend: Annotated[
        Literal["bundled", "yunet"],
        Help(
            "bundled: scikit-image's LBP cascade, offline, no landmarks; yunet: OpenCV "
            "YuNet (needs its .onnx weights), scores and five landmarks"
        ),
    ] = "bundled",
    min_score: Annotated[
        float,
        Range(0.0, 1.0, 0.01),
        Help(
            "Drop faces scoring lower. yunet: the detector's confidence; bundled: "
            "n/(n+8) for n agreeing cascade hits"
        ),
    ] = 0.6,
    min_size: Annotated[
        float,
        Range(0.0, 1.0, 0.005),
        Help("Smallest face side, as a fraction of the image's shorter side"),
    ] = 0.05,
    detect_size: Annotated[
        int,
        Range(128, 4096, 32),
        Help("Detection runs with the long side at most this many pixels; raise for small faces"),
    ] = 640,
    feather: Annotated[
        float,
        Range(0.0, 1.0, 0.01),
        Help("Soft edge of the nearest/farthest face fields, as a fraction of the face radius"),
    ] = 0.3,
    weights: Annotated[
        FilePath,
        Help(
            "yunet only: path to face_detection_yunet_2023mar.onnx; empty = models folder "
            "or Hugging Face cache"
        ),
    ] = "",
    ctx: Context,
) -> dict[str, Faces | Field]:
    """Find faces: boxes, scores, landmarks, mean depth; near → far with anchor fields.

    With a Depth input each face gets the mean depth over the ellipse inside its box and
    the faces are ordered near → far. Without one, depth stays empty and faces are ordered
    by size (larger first): "nearest" is then the largest face. No face found is not an
    error: the fields are all zero and the node's progress message says so.
    """
    import cv2

    h, w = image.size
    scale = min(1.0, detect_size / max(h, w))
    dh, dw = max(round(h * scale), 1), max(round(w * scale), 1)
    pixels = np.asarray(image.pixels)
    if scale < 1.0:
        pixels = np.asarray(
            cv2.resize(pixels, (dw, dh), interpolation=cv2.INTER_AREA), dtype=np.float32
        )
    min_px = round(min_size * min(dh, dw))
    ctx.check_cancelled()
    if backend == "bundled":
        ctx.progress(0.1, "detecting faces (bundled LBP cascade)")
        gray = (pixels @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)).astype(np.float32)
        found = _detect_bundled(gray, min_px)
    elif backend == "yunet":
        model = resolve_yunet(weights, ctx)
        ctx.progress(0.1, f"detecting faces (YuNet, {model.name})")
        rgb8 = np.round(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
        found = _detect_yunet(rgb8, model, min_score)
    else:  # the param spec refuses other values; keep the message for direct calls
        raise GatewayError(f"unknown face backend {backend!r}; use 'bundled' or 'yunet'")
    ctx.check_cancelled()

    depth_values: NDArray[np.float32] | None = None
    valid = None if depth is None else depth.valid
    if depth is not None:
        depth_values = same_size(depth.values, (h, w), "the depth map")
    sx, sy = w / dw, h / dh  # per axis: the detection size was rounded
    faces: list[Face] = []
    for (x, y, bw, bh), score, marks in found:
        if score < min_score or min(bw, bh) < min_px:
            continue
        box = (x * sx, y * sy, bw * sx, bh * sy)
        landmarks = tuple((mx * sx, my * sy) for mx, my in marks)
        mean = None if depth_values is None else _mean_depth(depth_values, valid, box)
        faces.append(Face(box, score, landmarks, mean))
    if depth_values is None:  # no depth: larger faces count as nearer (documented)
        faces.sort(key=lambda f: -(f.box[2] * f.box[3]))
    slot = Faces(tuple(faces), (h, w))  # the slot orders faces near → far by depth

    if slot.faces:
        nearest = ellipse_field((h, w), slot.faces[0].box, feather=feather)
        farthest = ellipse_field((h, w), slot.faces[-1].box, feather=feather)
        ctx.progress(1.0, f"{len(slot.faces)} face{'s' if len(slot.faces) > 1 else ''} found")
    else:
        nearest = farthest = np.zeros((h, w), dtype=np.float32)
        ctx.progress(1.0, "no face found: the nearest/farthest fields are empty")
    return {"faces": slot, "nearest": Field(nearest), "farthest": Field(farthest)}
