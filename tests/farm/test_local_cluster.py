"""Batches on a Dask LocalCluster of 2 worker processes: byte-identical to a serial run,
every report present, a failed image reported without stopping the others, cancel."""

from __future__ import annotations

import os
import signal
import time
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


def test_a_lost_worker_s_image_is_rendered_again(tmp_path: Path, client: Any) -> None:
    images = photos(tmp_path / "in", 12)
    graph = load_patch(FOG)
    run_jobs(plan_batch(graph, images, tmp_path / "serial").jobs, Evaluator(SlotCache(None)))
    plan = plan_batch(graph, images, tmp_path / "farm")
    killed: list[str] = []

    def kill_a_busy_worker(i: int, _n: int, _name: str) -> None:
        busy = [w for w, keys in client.processing().items() if keys]
        if i >= 1 and not killed and busy:
            killed.append(busy[0])
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)  # the machine is gone, as far as Dask can tell

    reports = run_on_client(
        client, plan.jobs, FarmSettings(memory_only=True), None, kill_a_busy_worker
    )
    assert killed
    assert [r.status for r in reports] == ["ok"] * 12
    assert any(r.report.get("attempts") == 2 for r in reports)
    assert files(tmp_path / "farm") == files(tmp_path / "serial")
    client.wait_for_workers(2, timeout=60)  # the nanny brings the worker back


def test_the_cancel_event_reaches_a_job(client: Any) -> None:
    from distributed import Event

    from gateway_studio.engine import farm

    token = farm._EventToken("gateway-studio-test-cancel")
    assert not token.cancelled
    Event("gateway-studio-test-cancel", client=client).set()
    time.sleep(farm.CANCEL_POLL + 0.05)
    assert token.cancelled


def test_cluster_errors_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway_studio.engine import farm
    from gateway_studio.engine.farm import FarmError

    monkeypatch.setattr(farm, "CONNECT_TIMEOUT", 1.0)
    with pytest.raises(FarmError, match="at least one worker"), dask_client(workers=0):
        pass
    unreachable = pytest.raises(FarmError, match=r"cannot reach the Dask scheduler at tcp://")
    with unreachable, dask_client(scheduler="tcp://127.0.0.1:9"):
        pass


def _allocator_environ() -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in ("MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX")}


def test_workers_start_with_the_apps_allocator(client: Any) -> None:
    """glibc reads these at the worker's start, before its threads make arenas of their
    own (gateway_studio/malloc.py): a 33 MP frame is then reused, not re-faulted."""
    from gateway_studio.malloc import ENVIRON

    seen = client.run(_allocator_environ)
    assert len(seen) == 2
    for environ in seen.values():
        assert environ == {k: ENVIRON[k] for k in environ}
        assert environ["MALLOC_MMAP_MAX_"] == "0"
