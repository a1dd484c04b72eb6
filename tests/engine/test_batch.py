"""The batch engine: output names never collide, failed images write nothing, one
overwrite guard, one final-node rule, jobs as plain data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.engine import Evaluator, PatchGraph, SlotCache, default_registry
from gateway_studio.engine.batch import (
    BatchError,
    final_node,
    is_image_file,
    output_names,
    plan_batch,
    run_jobs,
    summary,
)


def test_output_names_keep_the_tree_and_split_same_stems(tmp_path: Path) -> None:
    images = [tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", tmp_path / "b" / "x.jpg"]
    names = output_names(images)
    assert names == {
        str(images[0]): "a/x",
        str(images[1]): "b/x_png",
        str(images[2]): "b/x_jpg",
    }
    assert len(set(names.values())) == 3
    assert output_names([tmp_path / "one.png"]) == {str(tmp_path / "one.png"): "one"}


# -- the batch engine shared by the CLI and the app ------------------------------------


def _photos(folder: Path, n: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"p{i}.png"
        PILImage.fromarray(np.full((6, 8, 3), 60 * i, np.uint8)).save(p)
        out.append(p)
    return out


def _photo_patch(first: Path, *, export: bool = True) -> PatchGraph:
    g = PatchGraph(default_registry())
    g.add_node("source.image", {"path": str(first)}, node_id="photo")
    if export:
        from gateway_studio.engine.graph import Link

        g.add_node("output.export", {"path": "x.png"}, node_id="export")
        g.connect(Link("photo", "image", "export", "source"))
    return g


def test_failed_images_write_nothing_and_the_summary_says_so(tmp_path: Path) -> None:
    good = _photos(tmp_path / "in", 2)
    bad = tmp_path / "in" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    plan = plan_batch(_photo_patch(good[0]), [*good, bad], tmp_path / "out")
    reports = run_jobs(plan.jobs, Evaluator(SlotCache(None)))
    assert [r.status for r in reports] == ["ok", "ok", "failed"]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["p0.png", "p1.png"]  # nothing for the broken image
    assert reports[2].written == [] and "photo" in reports[2].errors[0]
    assert reports[2].report["nodes"]["export"]["status"] == "skipped"
    line = summary(reports, 3)
    assert line.startswith("rendered 2 of 3 images (2 file(s) written)")
    assert "1 failed and wrote nothing" in line


def test_without_an_export_the_final_node_is_written(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 1)
    g = _photo_patch(photos[0], export=False)
    assert final_node(g) == "photo"  # the picture-making node with the longest chain
    plan = plan_batch(g, photos, tmp_path / "out", suffix=".tif")
    assert [Path(p).name for p in plan.jobs[0].outputs.values()] == ["p0.tif"]
    assert "output.export" not in {n.type_id for n in g.nodes()}  # the patch is untouched


def test_the_overwrite_guard_runs_before_any_render(tmp_path: Path) -> None:
    photos = _photos(tmp_path / "in", 2)
    with pytest.raises(BatchError, match=r"would overwrite .*p0\.png"):
        plan_batch(_photo_patch(photos[0]), photos, tmp_path / "in")
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["p0.png", "p1.png"]


def test_jobs_are_plain_data(tmp_path: Path) -> None:
    """Issue #14 runs the jobs elsewhere (Dask): a job must survive JSON as it is."""
    photos = _photos(tmp_path / "in", 2)
    plan = plan_batch(_photo_patch(photos[0]), photos, tmp_path / "out")
    for job in plan.jobs:
        again = json.loads(json.dumps(dataclasses.asdict(job)))
        assert again["inputs"] == {"photo": str(job.inputs["photo"])}
    assert plan.jobs[0].inputs != plan.jobs[1].inputs
    assert plan.same_each_time == []


def test_an_image_is_known_by_its_bytes(tmp_path: Path) -> None:
    photo = _photos(tmp_path, 1)[0]
    fake = tmp_path / "patch.png"
    fake.write_text('{"format": "gateway-studio.patch"}')
    renamed = tmp_path / "photo_without_suffix"
    renamed.write_bytes(photo.read_bytes())
    assert is_image_file(photo) and is_image_file(renamed)
    assert not is_image_file(fake) and not is_image_file(tmp_path / "missing.png")
