"""Batch jobs on Dask: worker processes on this machine, or an existing cluster.

``run_jobs_on_dask`` runs ``engine/batch.py``'s jobs on a Dask ``LocalCluster`` of N worker
processes, or on the cluster behind a scheduler address. The batch rules stay the batch
engine's: each worker calls ``batch.run_job``.

* **JSON across the wire.** A job crosses to a worker as JSON text (``job_to_text``) and
  its report comes back as JSON text; Dask ships only ``render_job_text`` (by reference,
  its module name) and strings. Nothing of ours is pickled.
* **One evaluator per worker, kept.** Each worker process keeps one ``Evaluator`` per
  cache setting for its whole life (``worker_evaluator``), so its memory cache and the
  model weights the nodes load (``engine/models/`` keeps them per process) are loaded
  once per worker, not once per image.
* **One cache on a shared path.** With ``cache_dir`` every worker opens that folder: the
  disk cache is content-addressed and safe for concurrent writers (temp file + rename in
  the entry's own folder). Without it each worker uses its own default cache folder.
* **Progress** is reported once per finished image, in completion order, to one callback.
* **Failures.** A failed image comes back as a failed report (its image and its errors)
  and the others carry on. A job whose worker was lost is submitted once more; a second
  loss is reported as a failure.
* **Cancel** (a ``CancelToken`` or Ctrl-C): jobs not started are dropped; running ones
  see a Dask ``Event`` between nodes and stop, and a cancelled image writes nothing
  (exports are atomic: a file appears whole under its name, or not at all).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import (
    BatchJob,
    JobReport,
    job_from_text,
    job_to_text,
    report_from_text,
    report_to_text,
    run_job,
)
from .cache import SlotCache
from .errors import GatewayError
from .evaluator import CancelToken, Evaluator
from .keys import default_cache_dir

#: How often a running job asks the scheduler whether the batch was cancelled (seconds).
CANCEL_POLL = 0.25
#: How long reaching a scheduler may take before the batch gives up (seconds).
CONNECT_TIMEOUT = 20.0
#: How long a cancel waits for running jobs to stop between nodes (seconds).
CANCEL_GRACE = 30.0
Progress = Callable[[int, int, str], None]


class FarmError(GatewayError):
    """Dask is missing, or the cluster cannot be reached."""


def _distributed() -> Any:
    """``distributed``, imported when a batch runs on Dask (it is an optional extra, and
    untyped: what comes from it is ``Any`` here)."""
    try:
        import distributed
    except ImportError:
        raise FarmError(
            "running a batch on Dask needs dask[distributed]: pip install 'gateway-studio[farm]'"
        ) from None
    return distributed


@dataclass(frozen=True)
class FarmSettings:
    """What every worker needs besides the job: where the bundle cache lives."""

    #: A folder every worker opens (a shared path on a cluster); None: each worker's default.
    cache_dir: str | None = None
    #: Keep the cache in memory only (``--no-disk-cache``).
    memory_only: bool = False
    #: Each worker in a folder of its own under ``cache_dir`` (``worker-<pid>``): nothing
    #: shared (what benchmarks/batch.py compares the shared folder against).
    per_worker: bool = False

    def to_text(self) -> str:
        return json.dumps(
            {
                "cache_dir": self.cache_dir,
                "memory_only": self.memory_only,
                "per_worker": self.per_worker,
            }
        )

    @classmethod
    def from_text(cls, text: str) -> FarmSettings:
        data = json.loads(text)
        cache_dir = data.get("cache_dir")
        return cls(
            str(cache_dir) if cache_dir else None,
            bool(data.get("memory_only")),
            bool(data.get("per_worker")),
        )

    def cache_root(self) -> Path | None:
        """The folder this worker process's disk cache lives in (None: memory only)."""
        if self.memory_only:
            return None
        root = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        return root / f"worker-{os.getpid()}" if self.per_worker else root


# ----------------------------------------------------------------------- on a worker
#: worker thread → (settings text, its evaluator): the last one is kept between batches.
_evaluators: dict[int, tuple[str, Evaluator]] = {}
_evaluators_lock = threading.Lock()


def worker_evaluator(settings: FarmSettings) -> Evaluator:
    """This worker's evaluator for ``settings``, made on first use and kept while the
    batches it runs keep those settings (one per worker thread: an evaluator runs one
    graph at a time; other settings replace it, so a long-lived worker holds one)."""
    text, thread = settings.to_text(), threading.get_ident()
    with _evaluators_lock:
        kept = _evaluators.get(thread)
        if kept is None or kept[0] != text:
            kept = _evaluators[thread] = (text, Evaluator(SlotCache(settings.cache_root())))
        return kept[1]


class _EventToken(CancelToken):
    """Cancelled once the batch's Dask ``Event`` is set (asked at most every
    ``CANCEL_POLL`` seconds, between nodes)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self._asked = 0.0

    @property
    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self._event.is_set() and now - self._asked >= CANCEL_POLL:
            self._asked = now
            if _distributed().Event(self._name).is_set():
                self.cancel()
        return self._event.is_set()


_tuned = threading.Event()


def _tune_worker_process() -> None:
    """The worker's allocator as the app and the CLI set theirs (``gateway_studio/malloc.py``:
    ~25 % faster full-frame nodes; Dask's nanny sets a small trim threshold otherwise).
    Once per process: this task is our code's entry point on a worker. Workers we spawn
    have it from their start (``dask_client``); a cluster behind a scheduler address gets
    it here, where threads that already made their own arenas keep them."""
    if not _tuned.is_set():
        from gateway_studio.malloc import keep_freed_buffers

        keep_freed_buffers()
        _tuned.set()


def render_job_text(job_text: str, settings_text: str, cancel_event: str | None = None) -> str:
    """The task every worker runs: a job as JSON text in, its report as JSON text out.
    Whatever goes wrong is the image's failure, reported, never the batch's."""
    _tune_worker_process()
    try:
        job = job_from_text(job_text)
    except (GatewayError, ValueError, KeyError) as exc:
        return report_to_text(JobReport("(unreadable job)", "failed", errors=[str(exc)]))
    token = _EventToken(cancel_event) if cancel_event else None
    try:
        evaluator = worker_evaluator(FarmSettings.from_text(settings_text))
        report = run_job(job, evaluator, cancel=token)
    except Exception as exc:  # the image failed (a bad patch in the job, a full disk...)
        report = JobReport(job.name, "failed", errors=[f"{type(exc).__name__}: {exc}"])
    return report_to_text(report)


# ---------------------------------------------------------------------- on the client
@contextmanager
def dask_client(workers: int = 2, scheduler: str | None = None) -> Iterator[Any]:
    """A client of the cluster at ``scheduler``, else of a ``LocalCluster`` of ``workers``
    single-threaded worker processes (closed on exit)."""
    d = _distributed()
    import dask

    if scheduler:
        try:
            client = d.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise FarmError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise FarmError(f"--workers {workers}: need at least one worker")
    from gateway_studio.malloc import ENVIRON

    # a lost worker fails its task at once; run_on_client retries it once itself; the
    # workers' allocator is tuned from their start, before their threads make arenas
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in ENVIRON.items()}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, **environ}):
        cluster = d.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never another cluster's 8787
        )
    try:
        with d.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def run_jobs_on_dask(
    jobs: Sequence[BatchJob],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    settings: FarmSettings | None = None,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> list[JobReport]:
    """``batch.run_jobs`` on Dask (see the module docs): the reports of the images that
    finished, in the jobs' order."""
    with dask_client(workers, scheduler) as client:
        return run_on_client(client, jobs, settings or FarmSettings(), cancel, progress)


class _Batch:
    """The futures of one batch on one client, and what came back."""

    def __init__(self, client: Any, jobs: Sequence[BatchJob], settings: FarmSettings) -> None:
        self.client, self.jobs = client, jobs
        self.tag = uuid.uuid4().hex[:12]
        self.event_name = f"gateway-studio-cancel-{self.tag}"
        self.event = _distributed().Event(self.event_name, client=client)
        self.settings_text = settings.to_text()
        self.texts = [job_to_text(job) for job in jobs]
        self.pending: dict[Any, tuple[int, int]] = {}
        self.reports: dict[int, JobReport] = {}
        self.event_set = False

    def submit(self, index: int, attempt: int) -> Any:
        future = self.client.submit(
            render_job_text,
            self.texts[index],
            self.settings_text,
            self.event_name,
            key=f"gateway-studio-{self.tag}-{index}-{attempt}",
            pure=False,
            retries=0,
        )
        self.pending[future] = (index, attempt)
        return future

    def collect(self, future: Any) -> tuple[int, Any | None]:
        """Record a finished future's report (its job's index); a resubmitted future when
        its worker was lost the first time."""
        index, attempt = self.pending.pop(future)
        name = self.jobs[index].name
        try:
            self.reports[index] = report_from_text(future.result())
            if attempt:  # say so: the image was rendered again after its worker was lost
                self.reports[index].report["attempts"] = attempt + 1
        except _distributed().KilledWorker as exc:
            if attempt == 0 and not self.event_set:
                return index, self.submit(index, 1)
            error = f"its worker was lost ({exc}); retried once" if attempt else str(exc)
            self.reports[index] = JobReport(name, "failed", errors=[error])
        except Exception as exc:  # the cluster itself (a closed connection...)
            error = f"{type(exc).__name__}: {exc}"
            self.reports[index] = JobReport(name, "failed", errors=[error])
        return index, None

    def stop(self) -> None:
        """Cancel: every job not finished sees the event (running ones between nodes,
        queued ones at once) and ends ``cancelled`` without writing. They are waited for,
        up to ``CANCEL_GRACE``, so no report of a written file is lost and no worker is
        closed in the middle of a file; what is left after that is dropped. (Dropping
        queued futures at once would race with ones that just finished: their files
        would be written with no report.)"""
        self.event_set = True
        self.event.set()
        deadline = time.monotonic() + CANCEL_GRACE
        while time.monotonic() < deadline and any(not f.done() for f in self.pending):
            time.sleep(0.05)
        for future in list(self.pending):
            if future.status == "finished":
                self.collect(future)
            else:
                future.cancel()

    def in_order(self) -> list[JobReport]:
        return [self.reports[i] for i in sorted(self.reports)]


def run_on_client(
    client: Any,
    jobs: Sequence[BatchJob],
    settings: FarmSettings,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> list[JobReport]:
    """Submit every job, gather reports as they finish (``progress(done, total, name)``),
    stop cleanly on ``cancel`` or Ctrl-C (``KeyboardInterrupt`` is raised again after)."""
    run = _Batch(client, jobs, settings)
    waiting = _distributed().as_completed([run.submit(i, 0) for i in range(len(jobs))])
    total = len(jobs)
    if progress is not None:
        progress(0, total, "starting")
    try:
        while not waiting.is_empty():
            if cancel is not None and cancel.cancelled:
                run.stop()
                break
            if not waiting.has_ready():
                time.sleep(0.05)
                continue
            for future in waiting.next_batch(block=False):
                index, again = run.collect(future)
                if again is not None:
                    waiting.add(again)
                elif progress is not None:
                    progress(len(run.reports), total, Path(run.jobs[index].name).name)
    except BaseException:
        run.stop()
        raise
    return run.in_order()
