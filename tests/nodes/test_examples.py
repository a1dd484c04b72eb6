"""Every shipped example patch renders, and its outputs are real pictures.

Patches already rendered (with stronger, scene-specific checks) by other tests are not
rendered again here; see ``TESTED_ELSEWHERE``. Patches whose nodes need model weights that
this machine does not have are skipped, recognised by the engine's ``ModelMissingError``.
The motorcycle examples also check that each effect lands where its docs say it does
(behind the bike, on the bike), on the sample's ground-truth depth.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Evaluator, SlotCache, load_patch
from gateway_studio.engine.imageio import read_image
from tests.conftest import RESOURCES

PATCHES = RESOURCES / "patches"

#: Rendered by other test modules: test_modulation (the scene's effects), test_geometry
#: (normals, relight) and test_faces (faces).
TESTED_ELSEWHERE = {
    "fog",
    "isolate",
    "halo",
    "depth_band_style",
    "drawing",
    "blend",
    "normals",
    "relight",
    "faces",
}

EXAMPLES = sorted(p.stem for p in PATCHES.glob("*.json") if p.stem not in TESTED_ELSEWHERE)

#: Where each motorcycle effect must show: "behind" = stronger on the garage than on the
#: bike, "bike" = the other way round, None = everywhere (whole-frame effects).
WHERE = {
    "motorcycle": "behind",
    "motorcycle_drawing": "behind",
    "motorcycle_isolate": "behind",
    "motorcycle_fog": "behind",
    "motorcycle_depth_band": "behind",
    "motorcycle_blend": "behind",
    "motorcycle_halo": "bike",
    "motorcycle_relight": None,
    "motorcycle_normals": None,
}

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"}


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    # One in-memory cache for the module: the motorcycle source is decoded once.
    return Evaluator(SlotCache(None))


def test_every_example_is_covered() -> None:
    assert EXAMPLES, "no example patches found"
    # a renamed patch must not silently drop out of the tests that claim it
    missing = {n for n in TESTED_ELSEWHERE if not (PATCHES / f"{n}.json").exists()}
    assert not missing, f"TESTED_ELSEWHERE names patches that do not exist: {missing}"
    for name in WHERE:
        assert name in EXAMPLES, f"{name}.json is missing"


def _check_output(path: Path) -> None:
    assert path.exists() and path.stat().st_size > 0, f"{path.name} was not written"
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        px = read_image(path).pixels
        assert np.isfinite(px).all()
        assert float(px.std()) > 0.02, f"{path.name} is (nearly) constant"
        # a picture or a smooth field, not a few flat patches
        assert np.unique(px[::4, ::4].reshape(-1, px.shape[-1]), axis=0).shape[0] > 16
    elif suffix == ".ply":
        header = path.read_bytes()[:400].decode("ascii", errors="replace")
        count = int(header.split("element vertex ")[1].split()[0])
        assert count > 1000, f"{path.name} has only {count} points"
    elif suffix == ".json":
        json.loads(path.read_text())


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_renders(name: str, tmp_path: Path, evaluator: Evaluator) -> None:
    graph = load_patch(PATCHES / f"{name}.json")
    exports = [n.id for n in graph.nodes() if n.type_id == "output.export"]
    assert exports, f"{name}.json has no export node"
    graph.write_consent = graph.write_consent.allow_folder(tmp_path)  # as --out-dir does
    targets = {}
    for node_id in exports:
        suffix = Path(str(graph.node(node_id).params["path"])).suffix or ".png"
        targets[node_id] = tmp_path / f"{node_id}{suffix}"
        graph.set_param(node_id, "path", str(targets[node_id]))
    result = evaluator.evaluate(graph, strict=True)
    if not result.ok:
        missing = [
            nid
            for nid, r in result.results.items()
            if r.status == "failed" and "ModelMissingError" in (r.traceback or "")
        ]
        if missing:
            pytest.skip(f"{name}: model weights not on this machine ({', '.join(missing)})")
    assert result.ok, result.report()
    for target in targets.values():
        _check_output(target)
    if name in WHERE:
        _check_motorcycle(name, read_image(next(iter(targets.values()))).pixels, evaluator)


def _check_motorcycle(name: str, out: np.ndarray, evaluator: Evaluator) -> None:
    from gateway_studio.engine import Context
    from nodes.sources import sample_rgbd

    sample = sample_rgbd(name="motorcycle", ctx=Context())
    photo, depth = sample["image"].pixels, sample["depth"].values
    assert out.shape[:2] == depth.shape
    if name == "motorcycle_normals":
        # the floor faces up (+Y → green high), the far wall faces the camera (blue high)
        assert out[480:, :, 1].mean() > 0.8
        assert out[:60, :, 2].mean() > out[:60, :, 1].mean()
        return
    change = np.abs(out[..., :3] - photo[..., :3]).mean(axis=2)
    bike, garage = change[depth > 0.8].mean(), change[depth < 0.3].mean()
    if WHERE[name] == "behind":
        assert garage > 0.04 and garage > 3 * bike, (garage, bike)
    elif WHERE[name] == "bike":
        assert bike > 0.02 and bike > 3 * garage, (garage, bike)
    else:
        assert change.mean() > 0.03


# -- the sample's depth at occlusion edges ----------------------------------------------
def test_occlusion_holes_on_a_depth_edge_take_the_background() -> None:
    from nodes.sources import _fill_invalid

    disp = np.full((8, 20), 10.0, np.float32)  # background (far)
    disp[:, :8] = 50.0  # a subject on the left (near)
    disp[2:6, 8:12] = np.inf  # the occlusion beside it
    filled = _fill_invalid(disp)
    # no pixel halfway between the subject and the background (a fringe in every effect)
    np.testing.assert_allclose(filled[2:6, 8:12], 10.0)
    np.testing.assert_array_equal(filled[:, :8], 50.0)


def test_motorcycle_depth_has_few_mid_depth_pixels_on_its_edges() -> None:
    from gateway_studio.engine import Context
    from nodes.sources import sample_rgbd

    d = sample_rgbd(name="motorcycle", ctx=Context())["depth"].values
    left, centre, right = d[:, :-2], d[:, 1:-1], d[:, 2:]
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    flying = (hi - lo > 0.3) & (centre - lo > 0.1) & (hi - centre > 0.1)
    # Telea inpainting alone left 1866 such pixels; filling edges from the background, 510
    assert int(flying.sum()) < 800
