"""segment.semantic and segment.subject: tiny random SegFormers through the real loading
path (config + safetensors in a folder, HF_HUB_OFFLINE=1), and depth refinement on
synthetic Segments/Depth."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gateway_studio.engine import (
    Context,
    Depth,
    GatewayError,
    Image,
    ModelMissingError,
    Segments,
    models,
)
from gateway_studio.engine.imageio import read_image
from nodes import _seg_upsample, _segmodels, _selfie, _subject
from nodes import segmentation as S
from tests.nodes.tiny_seg import TINY_LABELS, save_tiny_mask2former, save_tiny_segformer

ROOT = Path(__file__).resolve().parents[2]
PERSON = TINY_LABELS.index("person")


class Recorder(Context):
    def __init__(self) -> None:
        self.messages: list[str] = []
        super().__init__(report=lambda f, m: self.messages.append(m))


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GATEWAY_STUDIO_DEVICE", "cpu")
    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(tmp_path / "no-models"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_segformer(tmp_path_factory.mktemp("segformer") / "tiny-segformer")


@pytest.fixture(scope="module")
def photo() -> Image:
    from skimage import data

    rgb = data.astronaut()[40:250, 60:360]  # 210 × 300: not the model's square input
    return Image((rgb / 255.0).astype(np.float32))


# ------------------------------------------------------------------------ semantic
def test_semantic_through_the_real_loading_path(tiny: Path, photo: Image) -> None:
    ctx = Recorder()
    out = S.semantic(photo, model=str(tiny), classes="person", ctx=ctx)
    seg, mask = out["segments"], out["mask"]
    assert isinstance(seg, Segments)
    assert seg.labels.shape == photo.size and seg.labels.dtype == np.int32
    assert seg.labels.min() >= 0 and seg.labels.max() < len(TINY_LABELS)
    assert seg.names == TINY_LABELS  # from config.id2label
    assert len(np.unique(seg.labels)) > 1  # a random model still varies over a photo
    np.testing.assert_array_equal(mask.values > 0, seg.labels == PERSON)
    # two classes: the union
    both = S.semantic(photo, model=str(tiny), classes="Person, car", ctx=ctx)["mask"]
    np.testing.assert_array_equal(both.values > 0, np.isin(seg.labels, [PERSON, 2]))
    # the model store loaded it once for both runs
    loads = [m for m in ctx.messages if m.startswith("loading model")]
    assert len(loads) <= 1
    assert any(m.path == tiny.resolve() for m in models.loaded_models())


def test_matches_the_transformers_reference(tiny: Path, photo: Image) -> None:
    """Same random model: our pre/post-processing against the processor + post-process."""
    from transformers import SegformerForSemanticSegmentation
    from transformers.models.segformer.image_processing_pil_segformer import (
        SegformerImageProcessorPil,
    )

    processor = SegformerImageProcessorPil.from_pretrained(tiny)
    model = SegformerForSemanticSegmentation.from_pretrained(tiny).eval()
    rgb8 = np.round(np.asarray(photo.pixels) * 255).astype(np.uint8)
    inputs = processor(images=rgb8, return_tensors="pt")
    ours, valid = _segmodels.preprocess(np.asarray(photo.pixels), processor.to_dict())
    assert ours.shape == inputs["pixel_values"].shape and valid == (64, 64)
    # within one 8-bit level after normalisation (1 / 255 / 0.225 = 0.017)
    assert float((ours - inputs["pixel_values"]).abs().max()) < 0.02
    with torch.no_grad():
        reference = processor.post_process_semantic_segmentation(
            model(**inputs), target_sizes=[photo.size]
        )[0].numpy()
    labels = S.semantic(photo, model=str(tiny), ctx=Context())["segments"].labels
    assert (labels == reference).mean() > 0.98


def _blocky_scores(classes: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Scores like a real model's: a few dominant classes in blocks, plus noise."""
    gen = torch.Generator().manual_seed(seed)
    scores = torch.randn(classes, h, w, generator=gen) * 0.5
    scores[3, : h // 2] += 8
    scores[7, h // 2 :] += 8
    scores[12, h // 4 : h // 2 + 3, w // 4 : w // 2] += 12
    return scores


@pytest.mark.parametrize(
    "scores",
    [
        torch.randn(5, 13, 17, generator=torch.Generator().manual_seed(1)),
        torch.randn(150, 9, 11, generator=torch.Generator().manual_seed(2)),  # many hard cells
        _blocky_scores(150, 32, 24, 3),
    ],
    ids=["5-noise", "150-noise", "150-blocks"],
)
def test_upsample_argmax_equals_full_interpolation(
    scores: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_seg_upsample, "_STRIP_VALUES", 150 * 97)  # force many chunks
    h, w = scores.shape[1:]
    for size in ((37, 53), (h, w), (100, 31), (6, 9), (3 * h + 1, 5 * w - 2)):
        expected = F.interpolate(scores[None], size, mode="bilinear", align_corners=False)
        labels = _seg_upsample.upsample_argmax(scores, size)
        assert labels.dtype == np.int32
        np.testing.assert_array_equal(labels, expected[0].argmax(0).numpy())
    # the valid part of a padded grid behaves like the cropped grid
    cropped = scores[:, : h - 2, : w - 3]
    expected = F.interpolate(cropped[None], (40, 50), mode="bilinear", align_corners=False)
    labels = _seg_upsample.upsample_argmax(scores, (40, 50), valid=(h - 2.0, w - 3.0))
    np.testing.assert_array_equal(labels, expected[0].argmax(0).numpy())


def test_upsample_ignores_the_padded_part_of_the_score_grid() -> None:
    scores = torch.zeros(3, 8, 8)
    scores[1, :6, :4] = 1.0  # the image covers rows 0-5 and cols 0-3 of the grid
    scores[2, 6:, :] = 5.0  # padding rows: a class that must not leak in
    scores[2, :, 4:] = 5.0
    labels = _seg_upsample.upsample_argmax(scores, (60, 40), valid=(6.0, 4.0))
    assert (labels == 1).all()


def test_biased_model_masks_everything_and_absent_classes_nothing(
    tmp_path: Path, photo: Image
) -> None:
    folder = save_tiny_segformer(tmp_path / "all-person", bias={"person": 50.0})
    ctx = Recorder()
    out = S.semantic(photo, model=str(folder), classes="person", ctx=ctx)
    assert (out["segments"].labels == PERSON).all() and out["mask"].values.all()
    assert ctx.messages[-1] == "mask: person"
    none = S.semantic(photo, model=str(folder), classes="car", ctx=ctx)["mask"]
    assert not none.values.any()
    assert ctx.messages[-1] == "mask: none of the classes found"


def test_unknown_class_lists_valid_ones(tiny: Path, photo: Image) -> None:
    with pytest.raises(GatewayError) as info:
        S.semantic(photo, model=str(tiny), classes="persn", ctx=Context())
    message = str(info.value)
    assert "unknown class 'persn'" in message and "'person'" in message
    assert "wall, person, car, sky" in message and "4 in all" in message
    with pytest.raises(GatewayError, match="no class chosen"):
        S.parse_classes(" , ", TINY_LABELS)


def test_missing_model_offline_fails_fast_naming_the_pull_command(photo: Image) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelMissingError) as info:
        S.semantic(photo, ctx=Context())
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert "segformer" in message and "gateway-studio models pull" in message


def test_preprocess_follows_shortest_edge_and_padding_rules() -> None:
    pixels = np.random.default_rng(0).random((50, 80, 3)).astype(np.float32)
    config = {
        "size": {"shortest_edge": 40, "longest_edge": 60},
        "size_divisor": 32,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    x, valid = _segmodels.preprocess(pixels, config)
    assert valid == (38, 60)  # 40 / 50 * 80 = 64 > 60: the long edge bounds the scale
    assert tuple(x.shape) == (1, 3, 64, 64)
    assert float(x[..., 38:, :].abs().max()) == 0.0 and float(x[..., :, 60:].abs().max()) == 0.0
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


# ------------------------------------------------------------------------ subject
def two_regions(shape: tuple[int, int] = (120, 200)) -> tuple[Segments, Depth]:
    """Two people: a big one on the left at depth 0.4, a smaller one right at 0.8."""
    labels = np.zeros(shape, dtype=np.int32)
    labels[20:110, 10:90] = PERSON
    labels[40:100, 130:180] = PERSON
    labels[5:15, 190:198] = PERSON  # a speck, below any sensible min_area
    depth = np.full(shape, 0.1, dtype=np.float32)
    depth[20:110, 10:90] = 0.4
    depth[40:100, 130:180] = 0.8
    depth[5:15, 190:198] = 1.0
    return Segments(labels, TINY_LABELS), Depth(depth)


def test_pick_subject_keeps_the_nearest_large_region() -> None:
    seg, depth = two_regions()
    people = seg.labels == PERSON
    d = np.asarray(depth.values)
    near = _subject.pick_subject(people, d, min_area=0.01, tolerance=0.05)
    assert near is not None
    assert near[70, 150] and not near[70, 50] and not near[10, 194]
    # the speck is nearest of all but too small; with min_area 0 it wins
    speck = _subject.pick_subject(people, d, min_area=0.0, tolerance=0.05)
    assert speck is not None and speck[10, 194] and speck.sum() == 80
    # a wide tolerance keeps both large people
    both = _subject.pick_subject(people, d, min_area=0.01, tolerance=0.5)
    assert both is not None and both[70, 150] and both[70, 50]
    # no depth: the largest region
    largest = _subject.pick_subject(people, None, min_area=0.01, tolerance=0.05)
    assert largest is not None and largest[70, 50] and not largest[70, 150]
    assert _subject.pick_subject(np.zeros_like(people), d, min_area=0.0, tolerance=0.0) is None


def test_subject_node_with_segments_and_depth_inputs() -> None:
    seg, depth = two_regions()
    image = Image(np.zeros((*seg.size, 3), dtype=np.float32))
    ctx = Recorder()
    out = S.subject(image, depth, seg, ctx=ctx)
    mask, field = out["mask"].values, out["field"].values
    assert mask[70, 150] == 1 and mask[70, 50] == 0 and mask.sum() == 60 * 50
    assert "nearest" in ctx.messages[-1]
    assert field.shape == mask.shape and field.dtype == np.float32
    assert field[70, 155] > 0.99 and field[70, 50] < 0.01
    assert ((field > 0.05) & (field < 0.95)).any()  # a soft edge
    hard = S.subject(image, depth, seg, feather=0.0, ctx=ctx)["field"].values
    np.testing.assert_array_equal(hard, mask)
    # no depth: the largest person
    largest = S.subject(image, None, seg, ctx=ctx)["mask"].values
    assert largest[70, 50] == 1 and largest[70, 150] == 0


def test_subject_falls_back_to_depth_visibly() -> None:
    seg, depth = two_regions()
    nobody = Segments(np.zeros(seg.size, dtype=np.int32), TINY_LABELS)
    image = Image(np.zeros((*seg.size, 3), dtype=np.float32))
    ctx = Recorder()
    auto = S.subject(image, depth, nobody, mode="auto", ctx=ctx)["mask"].values
    assert "no large 'person' region" in ctx.messages[-1]
    assert "nearest large depth region" in ctx.messages[-1]
    assert auto[70, 150] == 1 and auto[70, 50] == 0  # the near block, from depth alone
    strict = S.subject(image, depth, nobody, mode="classes", ctx=ctx)["mask"].values
    assert not strict.any() and "empty" in ctx.messages[-1]
    with pytest.raises(GatewayError, match="needs a Depth input"):
        S.subject(image, None, nobody, mode="depth", ctx=ctx)


def test_depth_mode_finds_the_whole_near_sphere_of_the_scene() -> None:
    """scene.png: a red sphere in front of a box, a floor and a wall, with exact depth."""
    image = read_image(ROOT / "resources" / "images" / "scene.png")
    from nodes.depth_files import from_file

    depth = from_file(path=str(ROOT / "resources" / "images" / "scene_depth.png"), ctx=Context())
    mask = S.subject(image, depth, mode="depth", ctx=Context())["mask"].values > 0
    rgb = np.asarray(image.pixels)
    sphere = (rgb[..., 0] > rgb[..., 1] + 0.15) & (rgb[..., 0] > rgb[..., 2] + 0.15)
    iou = (mask & sphere).sum() / (mask | sphere).sum()
    assert iou > 0.95, iou


def test_subject_runs_the_model_when_no_segments_are_connected(
    tmp_path: Path, photo: Image
) -> None:
    folder = save_tiny_segformer(tmp_path / "all-person", bias={"person": 50.0})
    ctx = Recorder()
    out = S.subject(photo, None, mode="classes", model=str(folder), ctx=ctx)
    assert out["mask"].values.all()  # every pixel is "person": one region, the image
    assert "largest" in ctx.messages[-1]


# ------------------------------------------------------------------------ Mask2Former
def test_mask2former_loads_as_universal_and_segments(tmp_path: Path, photo: Image) -> None:
    from transformers.models.mask2former.image_processing_pil_mask2former import (
        Mask2FormerImageProcessorPil,
    )

    folder = save_tiny_mask2former(tmp_path / "tiny-mask2former")
    assert _segmodels.model_task(str(folder)) == "universal-segmentation"
    out = S.semantic(photo, model=str(folder), classes="sky", ctx=Context())
    seg = out["segments"]
    assert seg.labels.shape == photo.size and seg.names == TINY_LABELS
    assert seg.labels.min() >= 0 and seg.labels.max() < len(TINY_LABELS)
    np.testing.assert_array_equal(out["mask"].values > 0, seg.labels == 3)
    # the reference post-process (which also stretches through 384×384 and keeps the
    # padding) agrees on this model
    loaded = models.load_model(str(folder), task="universal-segmentation")
    processor = Mask2FormerImageProcessorPil.from_pretrained(folder)
    rgb8 = np.round(np.asarray(photo.pixels) * 255).astype(np.uint8)
    with torch.no_grad():
        outputs = loaded.model(
            pixel_values=processor(images=rgb8, return_tensors="pt")["pixel_values"]
        )
    reference = processor.post_process_semantic_segmentation(outputs, target_sizes=[photo.size])
    assert (seg.labels == reference[0].numpy()).mean() > 0.95


def test_query_scores_combine_class_and_mask_probabilities() -> None:
    """Two queries: class 1 on the left half, class 2 on the right half of the grid."""
    from types import SimpleNamespace

    classes = torch.full((1, 2, 4), -10.0)  # 3 classes + "no object"
    classes[0, 0, 1] = 10.0
    classes[0, 1, 2] = 10.0
    masks = torch.full((1, 2, 4, 6), -10.0)
    masks[0, 0, :, :3] = 10.0
    masks[0, 1, :, 3:] = 10.0

    def fake_model(pixel_values: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(class_queries_logits=classes, masks_queries_logits=masks)

    loaded = SimpleNamespace(model=fake_model, device="cpu", dtype=torch.float32, name="fake")
    scores = _segmodels.forward(loaded, torch.zeros(1, 3, 16, 24))  # type: ignore[arg-type]
    assert tuple(scores.shape) == (3, 4, 6)
    labels = _seg_upsample.upsample_argmax(scores, (40, 60))
    assert (labels[:, :29] == 1).all() and (labels[:, 31:] == 2).all()


# ------------------------------------------------------------------------ in a patch
def test_in_a_patch_decomposes_once_and_reports_progress(tiny: Path) -> None:
    from gateway_studio.engine import (
        Evaluator,
        Link,
        NodeProgress,
        PatchGraph,
        default_registry,
    )

    graph = PatchGraph(default_registry())
    astronaut = str(ROOT / "resources" / "images" / "astronaut.png")
    graph.add_node("source.image", {"path": astronaut}, node_id="photo")
    graph.add_node("segment.semantic", {"model": str(tiny)}, node_id="seg")
    graph.add_node("segment.subject", {"mode": "classes", "min_area": 0.0}, node_id="subject")
    graph.connect(Link("photo", "image", "seg", "image"))
    graph.connect(Link("photo", "image", "subject", "image"))
    graph.connect(Link("seg", "segments", "subject", "segments"))
    events: list[object] = []
    evaluator = Evaluator()
    first = evaluator.evaluate(graph, listener=events.append)
    assert first.ok, first.report()
    messages = [e.message for e in events if isinstance(e, NodeProgress) and e.node_id == "seg"]
    assert any(m.startswith("segmenting at 64×64") for m in messages)
    seg = first.output("seg", "segments")
    assert seg.size == (512, 512)
    subject = first.output("subject", "mask").values > 0
    assert subject.any() and np.isin(seg.labels[subject], [PERSON]).all()
    again = evaluator.evaluate(graph)
    assert again.results["seg"].status == "cached"
    assert again.results["subject"].status == "cached"
    # a knob of the subject recomputes the subject only
    graph.set_param("subject", "feather", 0.05)
    third = evaluator.evaluate(graph)
    assert third.results["seg"].status == "cached"
    assert third.results["subject"].status == "computed"


def test_bf16_precision_loads_a_bf16_model(tiny: Path, photo: Image) -> None:
    """On PyTorch, bf16 loads a bf16 model (compiled runtimes: tests/nodes/test_runtimes.py)."""
    fp32 = S.semantic(photo, model=str(tiny), runtime="torch", ctx=Context())["segments"].labels
    bf16 = S.semantic(photo, model=str(tiny), runtime="torch", precision="bf16", ctx=Context())
    bf16 = bf16["segments"].labels
    assert bf16.shape == photo.size
    assert any(
        m.path == tiny.resolve() and m.dtype == torch.bfloat16 for m in models.loaded_models()
    )
    assert (bf16 == fp32).mean() > 0.8  # same model, coarser arithmetic


def test_subject_any_knobs_keep_the_contract() -> None:
    """Any knob values in range: a 0/1 mask and a [0, 1] field at the image's size."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    seg, depth = two_regions((37, 53))
    image = Image(np.zeros((37, 53, 3), dtype=np.float32))
    rng = np.random.default_rng(5)
    noisy = Depth(np.clip(depth.values + rng.normal(0, 0.05, depth.size), 0, 1).astype(np.float32))

    @settings(max_examples=40, deadline=None)
    @given(
        mode=st.sampled_from(["auto", "classes", "depth"]),
        min_area=st.floats(0.0, 0.5),
        tolerance=st.floats(0.0, 1.0),
        feather=st.floats(0.0, 0.1),
        depth_in=st.sampled_from([depth, noisy]),
    )
    def check(
        mode: str, min_area: float, tolerance: float, feather: float, depth_in: Depth
    ) -> None:
        out = S.subject(
            image,
            depth_in,
            seg,
            mode=mode,
            min_area=min_area,
            depth_tolerance=tolerance,
            feather=feather,
            ctx=Context(),
        )
        mask, field = out["mask"].values, out["field"].values
        assert mask.shape == field.shape == (37, 53)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert field.dtype == np.float32 and field.min() >= 0.0 and field.max() <= 1.0
        if mode == "classes":  # never anything but the chosen class
            assert np.all(seg.labels[mask > 0] == PERSON)

    check()


# ------------------------------------------------------------------------ MediaPipe selfie
SELFIE = ROOT.parent / "shared" / "models" / "mediapipe" / _selfie.SELFIE_FILE  # ../shared
needs_selfie = pytest.mark.skipif(
    not SELFIE.is_file(), reason=f"MediaPipe selfie model not present at {SELFIE} (no ../shared)"
)


@needs_selfie
def test_selfie_model_masks_the_astronaut(monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage import data

    monkeypatch.setenv("GATEWAY_STUDIO_MODELS", str(SELFIE.parent.parent))  # …/models/mediapipe/
    image = Image((data.astronaut() / 255.0).astype(np.float32))
    out = S.semantic(image, model="mediapipe-selfie", ctx=Context())
    seg, mask = out["segments"], out["mask"].values
    assert seg.names == ("background", "person") and seg.size == (512, 512)
    assert mask[70:163, 175:268].mean() > 0.9  # the face (FACTS.md's box) is person
    assert mask[:60, 420:].mean() < 0.05  # the grey studio wall above the shuttle is not
    assert 0.3 < mask.mean() < 0.8
    # the .tflite path works as the model name too, and drives segment.subject
    subject = S.subject(image, None, model=str(SELFIE), ctx=Context())["mask"].values
    assert subject[70:163, 175:268].mean() > 0.9


def test_selfie_model_missing_is_a_clear_error(photo: Image, tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as info:
        S.semantic(photo, model="mediapipe-selfie", ctx=Context())
    message = str(info.value)
    assert _selfie.SELFIE_FILE in message and str(tmp_path / "no-models") in message
    with pytest.raises(ModelMissingError, match="no such file"):
        S.semantic(photo, model=str(tmp_path / "x.tflite"), ctx=Context())
