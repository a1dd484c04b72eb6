"""Depth from real sources: holes, metres, sensor presets, render passes, phone photos.

The sensor frames and the phone photo live in ../shared/eval (read-only, not shipped);
tests that need them skip, saying why, where they are absent."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy.stats import spearmanr

from gateway_studio.cli import main
from gateway_studio.engine import Context, Depth, GatewayError, Image
from nodes.depth_files import embedded, from_file
from nodes.depth_fill import fill
from nodes.geometry import point_cloud
from nodes.modulation import atmosphere
from tests.conftest import ROOT, SHARED

RGBD = SHARED / "eval" / "rgbd"
PUG = SHARED / "eval" / "phone" / "pug.heic"
needs_rgbd = pytest.mark.skipif(not RGBD.is_dir(), reason="../shared/eval/rgbd is absent")
needs_pug = pytest.mark.skipif(not PUG.is_file(), reason="../shared/eval/phone is absent")


def ground_truth(name: str) -> np.ndarray:
    """Metres (NaN = invalid) by the datasets' own documented formulas (shared/README)."""
    if name == "NYU":
        data = (RGBD / "NYU_depth.pgm").read_bytes()
        raw = np.frombuffer(data[-640 * 480 * 2 :], dtype="<u2").reshape(480, 640).astype(float)
        return np.where(raw < 1092, 351.3 / (1092.5 - np.minimum(raw, 1092)), np.nan)
    v = np.asarray(PILImage.open(RGBD / f"{name}_depth.png")).astype(np.uint16)
    if name == "TUM":
        return np.where(v > 0, v / 5000.0, np.nan)
    rotated = (v >> 3) | (v << 13)
    return np.where(rotated > 0, rotated / 1000.0, np.nan)


def render_npy(tmp_path: Path, name: str, encoding: str, suffix: str) -> np.ndarray:
    """``gateway-studio render`` of depth.from_file → output.export (.npy)."""
    patch = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {
                "id": "depth",
                "type": "depth.from_file",
                "params": {"path": str(RGBD / f"{name}_depth.{suffix}"), "encoding": encoding},
            },
            {"id": "export", "type": "output.export", "params": {"path": f"{name}.npy"}},
        ],
        "links": [{"from": "depth.depth", "to": "export.source"}],
    }
    (tmp_path / "p.json").write_text(json.dumps(patch))
    assert main(["render", str(tmp_path / "p.json"), "--cache-dir", str(tmp_path / "c")]) == 0
    return np.load(tmp_path / f"{name}.npy")


@needs_rgbd
@pytest.mark.parametrize(
    ("name", "encoding", "suffix"),
    [("NYU", "nyu-raw", "pgm"), ("TUM", "tum", "png"), ("SUN", "sun-rgbd", "png")],
)
def test_sensor_frames_read_through_their_preset(
    tmp_path: Path, name: str, encoding: str, suffix: str
) -> None:
    truth = ground_truth(name)
    exported = render_npy(tmp_path, name, encoding, suffix)
    valid = ~np.isnan(truth)
    np.testing.assert_array_equal(~np.isnan(exported), valid)  # holes stay holes
    rho = spearmanr(exported[valid], truth[valid])[0]
    assert rho <= -0.9999, rho  # inverse depth: nearer = larger
    depth = from_file(path=str(RGBD / f"{name}_depth.{suffix}"), encoding=encoding, ctx=Context())
    metres = depth.to_distance()
    assert metres.unit == "m"
    np.testing.assert_allclose(metres.values[valid], truth[valid], rtol=0.01)


@needs_rgbd
def test_atmosphere_fills_tum_holes_from_their_nearest_neighbour() -> None:
    depth = from_file(path=str(RGBD / "TUM_depth.png"), encoding="tum", ctx=Context())
    assert depth.valid is not None
    photo = Image(np.full((*depth.size, 3), 0.2, np.float32))
    fog = atmosphere(photo, depth, density=3.0, colour="#ffffff", desaturate=0.0).pixels[..., 0]
    import cv2

    _, labels = cv2.distanceTransformWithLabels(
        (~depth.valid).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(depth.valid)
    holes = ~depth.valid
    ny, nx = ys[labels[holes] - 1], xs[labels[holes] - 1]
    near_half = depth.values[ny, nx] >= 0.5
    assert near_half.sum() > 100
    gap = np.abs(fog[holes][near_half] - fog[ny, nx][near_half])
    assert gap.max() <= 0.1
    # the old failure: holes as "farthest" were solid fog over near objects
    assert fog[holes][near_half].mean() < fog.max() - 0.2


@needs_rgbd
def test_tum_point_cloud_has_one_point_per_valid_pixel_in_metres() -> None:
    truth = ground_truth("TUM")
    depth = from_file(path=str(RGBD / "TUM_depth.png"), encoding="tum", ctx=Context())
    cloud = point_cloud(depth, stride=1)
    valid = ~np.isnan(truth)
    assert len(cloud.points) == int(valid.sum())
    assert cloud.unit == "m"
    np.testing.assert_allclose(-cloud.points[:, 2], truth[valid], rtol=0.01)


def test_exr_z_pass_round_trips_with_metres(tmp_path: Path) -> None:
    import OpenEXR

    h, w = 48, 64
    z = np.tile(np.linspace(1.5, 12.0, w, dtype=np.float32), (h, 1))
    z[:8] = 1e10  # a renderer's background ("no hit")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"depth.Z": z, "RGB": np.zeros((h, w, 3), np.float32)}).write(
        str(tmp_path / "pass.exr")
    )
    depth = from_file(path=str(tmp_path / "pass.exr"), ctx=Context())
    assert depth.valid is not None and not depth.valid[:8].any() and depth.valid[8:].all()
    rho = spearmanr(depth.values[8:].ravel(), z[8:].ravel())[0]
    assert rho == pytest.approx(-1.0)
    np.testing.assert_allclose(depth.to_distance().values[8:], z[8:], rtol=1e-5)
    assert depth.metric_range == pytest.approx((1.5, 12.0))


def gdepth_jpeg(path: Path, metres: np.ndarray, near: float, far: float) -> None:
    """The sample maker's GDepth writer (resources/make_samples.py), on a grey photo."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_samples", ROOT / "resources" / "make_samples.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.gdepth_jpeg(path, np.full((*metres.shape, 3), 0.5), metres, near, far)


def test_gdepth_jpeg_round_trips_with_metres(tmp_path: Path) -> None:
    h, w = 120, 160
    metres = np.tile(np.linspace(0.5, 4.0, w), (h, 1))
    gdepth_jpeg(tmp_path / "lens_blur.jpg", metres, 0.5, 4.0)
    depth = embedded(path=str(tmp_path / "lens_blur.jpg"), edge_refine=False, ctx=Context())
    assert depth.size == (h, w)
    rho = spearmanr(depth.values.ravel(), metres.ravel())[0]
    assert rho == pytest.approx(-1.0)
    np.testing.assert_allclose(depth.to_distance().values, metres, rtol=2e-3)
    assert depth.metric_range == pytest.approx((0.5, 4.0), rel=0.01)


def test_embedded_depth_fails_clearly_without_depth(tmp_path: Path) -> None:
    PILImage.new("RGB", (32, 24)).save(tmp_path / "plain.jpg")
    with pytest.raises(GatewayError, match="holds no depth map"):
        embedded(path=str(tmp_path / "plain.jpg"), ctx=Context())


@needs_pug
def test_iphone_portrait_depth_has_the_photo_size_and_the_right_order() -> None:
    depth = embedded(path=str(PUG), ctx=Context())
    assert depth.size == (3024, 4032)
    assert depth.metric_range is not None  # Apple's disparity is in 1/m
    v = depth.values
    bed_front = np.median(v[2900:3000, 3700:4000])  # the bed's rim, bottom right
    dog = np.median(v[1800:2200, 1800:2300])  # the pug's chest
    wall = np.median(v[300:800, 1500:2500])  # the wall behind
    assert bed_front > dog > wall, (bed_front, dog, wall)


@needs_pug
def test_iphone_photo_renders_fog_by_its_own_depth(tmp_path: Path) -> None:
    patch = json.loads((ROOT / "resources" / "patches" / "phone_fog.json").read_text())
    (tmp_path / "phone_fog.json").write_text(json.dumps(patch))
    code = main(
        [
            "render",
            str(tmp_path / "phone_fog.json"),
            "--input",
            f"photo={PUG}",
            "--input",
            f"depth={PUG}",
            "--output",
            str(tmp_path / "fog.jpg"),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 0
    out = np.asarray(PILImage.open(tmp_path / "fog.jpg"))
    assert out.shape == (3024, 4032, 3)


def test_size_mismatch_is_refused_and_size_from_resizes_on_purpose(tmp_path: Path) -> None:
    values = np.tile(np.linspace(0.0, 1.0, 32, dtype=np.float32), (24, 1))
    PILImage.fromarray(Depth.from_inverse(values).to_uint16()).save(tmp_path / "d.png")
    photo = Image(np.full((48, 64, 3), 0.5, np.float32))
    depth = from_file(path=str(tmp_path / "d.png"), ctx=Context())
    with pytest.raises(GatewayError, match=r"32x24 but the image is 64x48.*size_from"):
        atmosphere(photo, depth)
    resized = from_file(photo, path=str(tmp_path / "d.png"), ctx=Context())
    assert resized.size == (48, 64)
    assert "resized (size_from) 32x24→64x48" in resized.source_convention
    with pytest.raises(GatewayError, match="aspect ratio"):
        from_file(
            Image(np.zeros((64, 64, 3), np.float32)), path=str(tmp_path / "d.png"), ctx=Context()
        )


def test_readme_tour_with_another_photo_never_borrows_the_sample_depth(tmp_path: Path) -> None:
    PILImage.new("RGB", (300, 200), (90, 120, 150)).save(tmp_path / "me.jpg")
    code = main(
        [
            "render",
            str(ROOT / "resources" / "patches" / "fog.json"),
            "--input",
            f"photo={tmp_path / 'me.jpg'}",
            "--output",
            str(tmp_path / "me_fog.png"),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code != 0
    assert not (tmp_path / "me_fog.png").exists()


def test_export_writes_holes_as_zero_and_nan_and_reads_them_back(tmp_path: Path) -> None:
    from nodes.output import slot_file_bytes

    metres = np.array([[1.0, 2.0, 0.0], [4.0, np.nan, 8.0]])
    depth = Depth.from_metric(metres)
    (tmp_path / "d.png").write_bytes(slot_file_bytes(depth, ".png", bits=0, quality=95))
    stored = np.asarray(PILImage.open(tmp_path / "d.png"))
    assert stored[0, 2] == 0 and stored[1, 1] == 0 and stored[0, 0] == 65535 and stored.min() == 0
    assert (stored[depth.valid] >= 1).all()
    back = from_file(path=str(tmp_path / "d.png"), ctx=Context())
    assert back.valid is not None and np.array_equal(back.valid, depth.valid)
    np.testing.assert_allclose(back.values[back.valid], depth.values[depth.valid], atol=2e-5)
    buf = io.BytesIO(slot_file_bytes(depth, ".npy", bits=0, quality=95))
    npy = np.load(buf)
    assert np.array_equal(np.isnan(npy), ~depth.valid)


def test_from_file_normalisation_works_for_every_convention(tmp_path: Path) -> None:
    inverse = np.tile(np.linspace(0.2, 0.6, 40, dtype=np.float32), (10, 1))
    np.save(tmp_path / "inv.npy", inverse)
    kept = from_file(path=str(tmp_path / "inv.npy"), ctx=Context())
    stretched = from_file(path=str(tmp_path / "inv.npy"), normalisation="percentile", ctx=Context())
    assert kept.values.max() == pytest.approx(1.0) and stretched.values.max() == pytest.approx(1.0)
    png = (inverse * 65534 + 1).astype(np.uint16)
    PILImage.fromarray(png).save(tmp_path / "inv.png")
    stored = from_file(path=str(tmp_path / "inv.png"), ctx=Context())
    minmax = from_file(path=str(tmp_path / "inv.png"), normalisation="minmax", ctx=Context())
    assert stored.values.max() == pytest.approx(0.6, abs=1e-4)  # auto keeps stored values
    assert minmax.values.max() == pytest.approx(1.0) and minmax.values.min() == 0.0
    with pytest.raises(GatewayError, match="near value must be larger"):
        from_file(
            path=str(tmp_path / "inv.png"),
            normalisation="fixed",
            fixed_near=0.2,
            fixed_far=0.6,
            ctx=Context(),
        )
    metric = np.tile(np.linspace(1.0, 5.0, 40), (10, 1))
    np.save(tmp_path / "m.npy", metric)
    fixed = from_file(
        path=str(tmp_path / "m.npy"),
        convention="metric",
        normalisation="fixed",
        fixed_near=1.0,
        fixed_far=10.0,
        ctx=Context(),
    )
    assert fixed.values.min() > 0.05  # 5 m is not the far end of a 1–10 m range
    millimetres = from_file(
        path=str(tmp_path / "m.npy"), convention="metric", scale=1000.0, ctx=Context()
    )
    assert millimetres.metric_range == pytest.approx((1000.0, 5000.0))  # scale works


def test_depth_fill_follows_the_photo_where_nearest_does_not() -> None:
    h, w = 120, 160
    photo = np.zeros((h, w, 3), np.float32)
    photo[:] = (0.1, 0.2, 0.8)
    photo[30:90, 40:100] = (0.9, 0.1, 0.1)  # a near red box on a far blue wall
    metres = np.full((h, w), 5.0)
    metres[30:90, 40:100] = 1.0
    valid = np.ones((h, w), bool)
    valid[20:100, 60:106] = False  # a hole over the box's right edge, reaching further right
    depth = Depth.from_metric(metres, valid=valid)
    box = np.zeros((h, w), bool)
    box[30:90, 40:100] = True
    hole = ~valid
    assert depth.values[hole & box].min() == 0.0  # the shared nearest fill: wrong side
    guided = fill(depth, Image(photo), ctx=Context())
    assert guided.valid is None
    assert guided.values[hole & box].min() > 0.95  # the box's own depth
    assert guided.values[hole & ~box].max() < 0.05  # the wall's


def test_region_and_its_mean_ignore_holes() -> None:
    from gateway_studio.engine import Mask
    from nodes.depth import region

    metres = np.array([[1.0, 2.0, np.nan, np.nan], [1.0, 2.0, np.nan, np.nan]])
    depth = Depth.from_metric(metres)  # 1 m → 1.0, 2 m → 0.0; holes filled from 2 m (0.0)
    out = region(depth, Mask(np.ones((2, 4), np.float32)))
    # the mean of what was measured (0.5), not pulled toward the holes' fill (0.25)
    assert out["depth"].values == pytest.approx(np.full((2, 4), 0.5))
    assert out["depth"].valid is None  # inside the region every pixel has its value


def test_no_node_module_calls_the_depth_constructor() -> None:
    offenders = []
    for path in sorted((ROOT / "nodes").glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text())):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Depth":
                offenders.append(f"{path.name}:{call.lineno}")
    assert offenders == [], f"nodes build Depth by hand: {offenders}"


def test_depth_files_over_the_memory_budget_are_refused_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import OpenEXR

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, {"Z": np.ones((600, 800), np.float32)}).write(str(tmp_path / "z.exr"))
    (tmp_path / "d.pfm").write_bytes(b"Pf\n800 600\n-1.0\n" + np.ones(480_000, "<f4").tobytes())
    monkeypatch.setenv("GATEWAY_STUDIO_MAX_IMAGE_MB", "1")
    for name in ("z.exr", "d.pfm"):
        with pytest.raises(GatewayError, match="GATEWAY_STUDIO_MAX_IMAGE_MB"):
            from_file(path=str(tmp_path / name), ctx=Context())
