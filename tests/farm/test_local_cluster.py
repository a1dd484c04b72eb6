"""Batches on a Dask LocalCluster of 2 worker processes: byte-identical to a serial run,
every report present, a failed image reported without stopping the others, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway_studio.engine import Evaluator, SlotCache, load_patch
from gateway_studio.engine.batch import job_to_text, plan_batch, report_from_text, run_jobs
from gateway_studio.engine.evaluator import CancelToken
from gateway_studio.engine.farm import (
    FarmSettings,
    dask_client,
    render_job_text,
    run_on_client,
)

from .shots import FOG, broken, files, photos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client(workers=2) as c:
        yield c


def test_two_workers_render_like_a_serial_run(tmp_path: Path, client: Any) -> None:
    images = [*photos(tmp_path / "in", 12), broken(tmp_path / "in")]
    graph = load_patch(FOG)
    serial_plan = plan_batch(graph, images, tmp_path / "serial")
    serial = run_jobs(serial_plan.jobs, Evaluator(SlotCache(None)))
    plan = plan_batch(graph, images, tmp_path / "farm")
    seen: list[tuple[int, int, str]] = []
    cache = tmp_path / "shared-cache"
    reports = run_on_client(
        client,
        plan.jobs,
        FarmSettings(str(cache)),
        progress=lambda i, n, name: seen.append((i, n, name)),
    )
    assert [r.name for r in reports] == [str(p) for p in images]  # every report, in order
    assert [r.status for r in reports] == ["ok"] * 12 + ["failed"]
    assert [r.status for r in serial] == ["ok"] * 12 + ["failed"]
    assert "photo" in reports[-1].errors[0] and reports[-1].written == []
    out = files(tmp_path / "farm")
    assert len(out) == 12 and "zz_broken.png" not in out  # the failed image wrote nothing
    assert out == files(tmp_path / "serial")  # byte-identical to the serial run
    # one progress bar: every image counted once, up to the total
    assert [i for i, _, _ in seen] == list(range(14))
    assert {name for _, _, name in seen[1:]} == {p.name for p in images}
    # the workers shared the one cache folder given
    assert any(cache.rglob("*"))


def test_cancel_stops_between_images_and_writes_only_whole_files(
    tmp_path: Path, client: Any
) -> None:
    images = photos(tmp_path / "in", 12)
    graph = load_patch(FOG)
    serial_plan = plan_batch(graph, images, tmp_path / "serial")
    run_jobs(serial_plan.jobs, Evaluator(SlotCache(None)))
    plan = plan_batch(graph, images, tmp_path / "farm")
    token = CancelToken()

    def progress(i: int, _n: int, _name: str) -> None:
        if i >= 2:
            token.cancel()

    reports = run_on_client(client, plan.jobs, FarmSettings(memory_only=True), token, progress)
    done = [r for r in reports if r.ok]
    assert 2 <= len(done) < 12
    out = files(tmp_path / "farm")
    assert len(out) == len(done)  # no temp files, nothing for cancelled images
    serial = files(tmp_path / "serial")
    assert all(out[name] == serial[name] for name in out)


def test_a_job_crosses_as_json_text_and_a_bad_one_is_reported(tmp_path: Path) -> None:
    images = photos(tmp_path / "in", 1)
    plan = plan_batch(load_patch(FOG), images, tmp_path / "out")
    text = render_job_text(job_to_text(plan.jobs[0]), FarmSettings(memory_only=True).to_text())
    report = report_from_text(text)
    assert report.ok and report.written == [str(tmp_path / "out" / "shot00.png")]
    bad = report_from_text(render_job_text('{"name": 3}', FarmSettings().to_text()))
    assert bad.status == "failed" and "name" in bad.errors[0]
