"""faces.detect (FaceAnchor): the bundled LBP cascade, YuNet, depth order, anchor fields."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from gateway_studio.engine import (
    Context,
    Depth,
    Evaluator,
    Faces,
    GatewayError,
    Image,
    ModelMissingError,
    default_registry,
    load_patch,
    models,
)
from nodes import faces as F
from nodes.output import export

ROOT = Path(__file__).resolve().parents[2]
YUNET = ROOT.parent / "shared" / "models" / "face" / F.YUNET_FILE  # ../shared
needs_yunet = pytest.mark.skipif(
    not YUNET.is_file(), reason=f"YuNet weights not present at {YUNET} (../shared is absent)"
)
#: Where FACTS.md measured the astronaut's face: rows 70-163, cols 175-268 (x, y, w, h).
ASTRONAUT_FACE = (175.0, 70.0, 93.0, 93.0)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def inside(box: tuple[float, ...], yx: tuple[int, int]) -> bool:
    y, x = yx
    return box[0] <= x <= box[0] + box[2] and box[1] <= y <= box[1] + box[3]


class Recorder(Context):
    def __init__(self, **kwargs: object) -> None:
        self.messages: list[str] = []
        super().__init__(report=lambda f, m: self.messages.append(m), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def astronaut() -> Image:
    return Image((data.astronaut() / 255.0).astype(np.float32))


@pytest.fixture(scope="module")
def bundled_result(astronaut: Image) -> dict:
    ctx = Recorder()
    out = F.detect(astronaut, backend="bundled", ctx=ctx)
    out["messages"] = ctx.messages
    return out


def two_face_canvas() -> tuple[Image, tuple[int, int, int, int], tuple[int, int, int, int]]:
    """The astronaut's head pasted twice on a grey canvas; (image, left rect, right rect)."""
    crop = data.astronaut()[20:230, 120:330] / 255.0
    canvas = np.full((480, 1000, 3), 0.5)
    left, right = (40, 60, 210, 210), (230, 640, 210, 210)  # y, x, h, w
    for y, x, h, w in (left, right):
        canvas[y : y + h, x : x + w] = crop
    return Image(canvas.astype(np.float32)), left, right


def depth_with(
    rects: list[tuple[tuple[int, int, int, int], float]], shape: tuple[int, int]
) -> Depth:
    values = np.zeros(shape, dtype=np.float32)
    for (y, x, h, w), v in rects:
        values[y : y + h, x : x + w] = v
    return Depth(values)


# ------------------------------------------------------------------------ bundled
def test_bundled_finds_exactly_the_astronauts_face(bundled_result: dict) -> None:
    faces = bundled_result["faces"]
    assert isinstance(faces, Faces)
    assert len(faces.faces) == 1
    face = faces.faces[0]
    assert iou(face.box, ASTRONAUT_FACE) > 0.6, face.box
    # the box covers the face: FACTS.md's face centre and most of its box lie inside
    assert inside(face.box, (116, 221))
    assert face.landmarks == ()  # the cascade gives none
    assert face.depth is None  # no Depth input
    assert 0.6 <= face.score <= 1.0
    assert faces.image_size == (512, 512)
    assert bundled_result["messages"][-1] == "1 face found"


def test_bundled_fields_peak_inside_the_box(bundled_result: dict) -> None:
    box = bundled_result["faces"].faces[0].box
    for name in ("nearest", "farthest"):
        v = bundled_result[name].values
        assert v.shape == (512, 512) and v.dtype == np.float32
        assert v.max() == pytest.approx(1.0)
        assert inside(box, np.unravel_index(int(v.argmax()), v.shape))
        ys, xs = np.nonzero(v > 0)
        assert xs.min() >= box[0] - 1 and xs.max() <= box[0] + box[2] + 1
        assert ys.min() >= box[1] - 1 and ys.max() <= box[1] + box[3] + 1
        # feathered: soft values between 0 and 1 exist
        assert ((v > 0.05) & (v < 0.95)).sum() > 100
    np.testing.assert_array_equal(
        bundled_result["nearest"].values, bundled_result["farthest"].values
    )


def test_knobs_change_the_result(astronaut: Image) -> None:
    ctx = Context()
    # min_size above the face's size (93 px of 512): nothing is found
    assert F.detect(astronaut, min_size=0.3, ctx=ctx)["faces"].faces == ()
    # min_score 0 keeps the weak cascade groups too
    assert len(F.detect(astronaut, min_score=0.0, ctx=ctx)["faces"].faces) > 1
    hard = F.detect(astronaut, feather=0.0, ctx=ctx)["nearest"].values
    assert set(np.unique(hard)) == {0.0, 1.0}


def test_detect_size_maps_boxes_back_to_input_pixels() -> None:
    big = np.kron(data.astronaut() / 255.0, np.ones((2, 2, 1))).astype(np.float32)
    out = F.detect(Image(big), detect_size=512, ctx=Context())
    (face,) = out["faces"].faces
    scaled = tuple(v * 2 for v in ASTRONAUT_FACE)
    assert iou(face.box, scaled) > 0.5, face.box
    assert out["nearest"].values.shape == (1024, 1024)


def test_no_face_is_not_an_error() -> None:
    ctx = Recorder()
    out = F.detect(Image((data.coffee() / 255.0).astype(np.float32)), ctx=ctx)
    assert out["faces"].faces == ()
    assert not out["nearest"].values.any() and not out["farthest"].values.any()
    assert out["nearest"].values.shape == (400, 600)
    assert "no face found" in ctx.messages[-1]


# ------------------------------------------------------------------------ depth order
def test_mean_depth_and_near_to_far_order() -> None:
    image, left, right = two_face_canvas()
    shape = image.size
    ctx = Context()
    out = F.detect(image, depth_with([(left, 0.3), (right, 0.8)], shape), ctx=ctx)
    near, far = out["faces"].faces
    assert near.depth == pytest.approx(0.8) and far.depth == pytest.approx(0.3)
    assert near.box[0] > 500 > far.box[0]  # the right head is the near one
    assert inside(near.box, np.unravel_index(int(out["nearest"].values.argmax()), shape))
    assert inside(far.box, np.unravel_index(int(out["farthest"].values.argmax()), shape))
    assert out["nearest"].values[:, :500].max() == 0.0
    # swap the depths: the order follows depth, not position or score
    swapped = F.detect(image, depth_with([(left, 0.9), (right, 0.2)], shape), ctx=ctx)
    assert [f.box[0] < 500 for f in swapped["faces"].faces] == [True, False]
    assert swapped["faces"].faces[0].depth == pytest.approx(0.9)


def test_mean_depth_is_over_the_face_ellipse_and_refuses_other_sizes() -> None:
    image, _, _ = two_face_canvas()
    h, w = image.size
    ramp = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    out = F.detect(image, Depth(ramp), ctx=Context())
    for face in out["faces"].faces:
        centre_x = face.box[0] + face.box[2] / 2
        assert face.depth == pytest.approx(centre_x / w, abs=0.01)  # symmetric ellipse
    # a depth map of another size is refused, naming both sizes: never resized silently
    small = Depth(np.ascontiguousarray(ramp[::2, ::2]))
    with pytest.raises(GatewayError, match=rf"is {w // 2}x{h // 2} but the image is {w}x{h}"):
        F.detect(image, small, ctx=Context())
    # holes in the depth take no part in a face's mean; a face with no depth gets None
    valid = np.ones((h, w), bool)
    valid[:, : w // 2] = False
    holey = Depth(ramp, valid=valid, fill="nearest")
    partial = F.detect(image, holey, ctx=Context())
    for face in partial["faces"].faces:
        if face.box[0] + face.box[2] < w // 2:
            assert face.depth is None
        elif face.box[0] > w // 2:
            centre_x = face.box[0] + face.box[2] / 2
            assert face.depth == pytest.approx(centre_x / w, abs=0.01)


def test_without_depth_larger_faces_come_first() -> None:
    crop = data.astronaut()[20:230, 120:330] / 255.0
    canvas = np.full((480, 1000, 3), 0.5)
    canvas[40:250, 60:270] = crop
    small = crop[::2, ::2][:, :, :]
    canvas[250:355, 700:805] = small
    out = F.detect(Image(canvas.astype(np.float32)), detect_size=1000, ctx=Context())
    boxes = [f.box for f in out["faces"].faces]
    assert len(boxes) == 2
    assert boxes[0][2] > boxes[1][2]
    assert all(f.depth is None for f in out["faces"].faces)


# ------------------------------------------------------------------------ grouping
def test_group_and_suppress_make_one_box_per_face() -> None:
    hits = np.array(
        [[100, 100, 50, 50], [102, 101, 50, 50], [98, 99, 55, 55], [300, 40, 30, 30]],
        dtype=np.float64,
    )
    groups = F.group_hits(hits)
    assert sorted(n for _, n in groups) == [1, 3]
    boxes = np.array([[0, 0, 100, 100], [20, 20, 30, 30], [200, 0, 50, 50]], dtype=np.float64)
    # the small box nested in the big one goes; the separate one stays
    assert F.suppress(boxes, np.array([0.9, 0.95, 0.5])) == [1, 2]


# ------------------------------------------------------------------------ yunet
@needs_yunet
def test_yunet_finds_the_face_with_five_landmarks(astronaut: Image) -> None:
    out = F.detect(astronaut, backend="yunet", weights=str(YUNET), ctx=Context())
    (face,) = out["faces"].faces
    assert face.score > 0.8
    assert iou(face.box, ASTRONAUT_FACE) > 0.5
    assert len(face.landmarks) == 5
    assert all(inside(face.box, (int(y), int(x))) for x, y in face.landmarks)
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    assert right_eye[0] < left_eye[0]  # image-left eye first


@needs_yunet
def test_yunet_weights_from_the_models_folder(
    astronaut: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(YUNET, tmp_path / F.YUNET_FILE)
    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path))
    out = F.detect(astronaut, backend="yunet", ctx=Context())
    assert len(out["faces"].faces) == 1


def test_yunet_missing_weights_is_a_clear_error(
    astronaut: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    t0 = time.perf_counter()
    with pytest.raises(ModelMissingError) as info:
        F.detect(astronaut, backend="yunet", ctx=Context())
    assert time.perf_counter() - t0 < 1.0  # offline, no network wait
    message = str(info.value)
    assert "yunet" in message and F.YUNET_FILE in message
    assert str(tmp_path / "models") in message  # where it looked
    assert str(tmp_path / "hub") in message  # the Hugging Face cache too
    assert "gateway-studio models pull yunet" in message  # how to get it
    assert "bundled" in message
    with pytest.raises(ModelMissingError, match="no such file"):
        F.detect(astronaut, backend="yunet", weights=str(tmp_path / "x.onnx"), ctx=Context())


@needs_yunet
def test_yunet_resolves_through_the_model_store(
    astronaut: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``<models>/yunet/<file>`` (where ``models pull yunet`` puts it) is found by the store."""
    (tmp_path / "yunet").mkdir()
    shutil.copy(YUNET, tmp_path / "yunet" / F.YUNET_FILE)
    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path))
    assert F.resolve_yunet("", Context()) == tmp_path / "yunet" / F.YUNET_FILE
    assert models.resolve_file("yunet").path == tmp_path / "yunet" / F.YUNET_FILE
    out = F.detect(astronaut, backend="yunet", ctx=Context())
    (face,) = out["faces"].faces
    assert iou(face.box, ASTRONAUT_FACE) > 0.5 and len(face.landmarks) == 5


@needs_yunet
def test_yunet_from_the_hugging_face_cache(
    astronaut: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub download: a snapshot symlink to an extension-less blob. OpenCV must get the
    ``.onnx`` name (it picks its importer by the extension), and it runs."""
    import huggingface_hub.constants

    base = tmp_path / "hub" / "models--opencv--face_detection_yunet"
    commit = "c" * 40
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    (base / "blobs").mkdir()
    blob = base / "blobs" / ("ab" * 32)
    shutil.copy(YUNET, blob)
    (base / "snapshots" / commit).mkdir(parents=True)
    (base / "snapshots" / commit / F.YUNET_FILE).symlink_to(blob)
    monkeypatch.delenv("GATEWAY_STUDIO_MODELS", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert F.resolve_yunet("", Context()).name == F.YUNET_FILE
    assert len(F.detect(astronaut, backend="yunet", ctx=Context())["faces"].faces) == 1


@needs_yunet
def test_pulled_yunet_is_what_the_node_runs(
    astronaut: Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``models pull yunet`` (the hub download monkeypatched to copy ../shared's file)
    fetches exactly the catalogued file, and the node then finds it with no weights param."""
    import huggingface_hub

    calls: list[tuple[str, str]] = []

    def fake_download(repo_id: str, filename: str, **kwargs: object) -> str:
        calls.append((repo_id, filename))
        return str(shutil.copy(YUNET, Path(str(kwargs["local_dir"])) / filename))

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr(models.pulling, "_hub_reachable", lambda: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    path = models.pull("yunet")
    assert calls == [(F.YUNET_REPO, F.YUNET_FILE)]
    assert path == tmp_path / "models" / "yunet" / F.YUNET_FILE
    assert len(F.detect(astronaut, backend="yunet", ctx=Context())["faces"].faces) == 1


def test_unknown_backend_is_refused(astronaut: Image) -> None:
    with pytest.raises(GatewayError, match="unknown face backend"):
        F.detect(astronaut, backend="haar", ctx=Context())


# ------------------------------------------------------------------------ export, patch
def test_export_faces_json_has_the_documented_format(tmp_path: Path) -> None:
    image, left, right = two_face_canvas()
    out = F.detect(image, depth_with([(left, 0.3), (right, 0.8)], image.size), ctx=Context())
    export(out["faces"], path="faces.json", ctx=Context(base_dir=tmp_path))
    doc = json.loads((tmp_path / "faces.json").read_text())
    assert list(doc) == ["faces"] and len(doc["faces"]) == 2
    for face in doc["faces"]:
        assert set(face) == {"box", "score", "landmarks", "depth"}
        assert len(face["box"]) == 4 and all(isinstance(v, float) for v in face["box"])
        assert isinstance(face["score"], float) and face["landmarks"] == []
    assert [f["depth"] for f in doc["faces"]] == pytest.approx([0.8, 0.3])  # near → far


def test_example_patch_runs_offline(tmp_path: Path) -> None:
    graph = load_patch(ROOT / "resources" / "patches" / "faces.json", default_registry())
    graph.set_param("export_faces", "path", str(tmp_path / "faces.json"))
    graph.set_param("export_nearest", "path", str(tmp_path / "nearest.png"))
    graph.write_consent = graph.write_consent.allow_folder(tmp_path)  # as --set would
    evaluation = Evaluator().evaluate(graph, strict=True)
    assert evaluation.ok, evaluation.report()
    doc = json.loads((tmp_path / "faces.json").read_text())
    assert len(doc["faces"]) == 1
    assert iou(tuple(doc["faces"][0]["box"]), ASTRONAUT_FACE) > 0.6
    assert (tmp_path / "nearest.png").stat().st_size > 0


def test_ellipse_field_any_box_stays_in_range_and_inside_the_box() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    coord = st.floats(-50, 150, allow_nan=False)
    side = st.floats(0.0, 120, allow_nan=False)

    @settings(max_examples=60, deadline=None)
    @given(x=coord, y=coord, w=side, h=side, feather=st.floats(0.0, 1.0))
    def check(x: float, y: float, w: float, h: float, feather: float) -> None:
        v = F.ellipse_field((64, 96), (x, y, w, h), feather=feather)
        assert v.shape == (64, 96) and v.dtype == np.float32
        assert v.min() >= 0.0 and v.max() <= 1.0
        ys, xs = np.nonzero(v)
        if len(xs):
            assert xs.min() >= np.floor(x) - 1 and xs.max() <= x + max(w, 1.0) + 1
            assert ys.min() >= np.floor(y) - 1 and ys.max() <= y + max(h, 1.0) + 1

    check()
