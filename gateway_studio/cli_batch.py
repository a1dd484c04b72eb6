"""``gateway-studio render PATCH --batch ...``: the batch flags of the command line.

The rules are the batch engine's (``engine/batch.py``, shared with the app's Render
batch); this module reads the flags (--batch, --batch-input NODE[=GLOB|RULE], --out-dir,
--workers, --scheduler), shows one progress bar and writes the report. With --workers N
or --scheduler the jobs run on Dask (``engine/farm.py``, imported only then).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway_studio.cli import EXIT_FAILED, EXIT_OK, UsageError, _absolute
from gateway_studio.cli_render import _stderr_listener, _write_report
from gateway_studio.engine import Evaluator, PatchGraph, batch


def render_batch(args: argparse.Namespace, graph: PatchGraph, evaluator: Evaluator) -> int:
    """``--batch``: the engine's batch jobs (engine/batch.py), one per image, with a
    progress bar; the same rules as the app's Render batch."""
    from tqdm import tqdm

    if not args.out_dir:
        raise UsageError("--batch needs --out-dir DIR")
    if args.scheduler and args.workers != 1:
        raise UsageError(
            f"--workers {args.workers} goes without --scheduler: the cluster at "
            f"{args.scheduler} has the workers it has"
        )
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: need at least one worker")
    pattern, source, partners = _batch_inputs(args, graph)
    images = sorted(
        p for p in glob.glob(os.path.expanduser(pattern), recursive=True) if Path(p).is_file()
    )
    if not images:
        raise UsageError(f"--batch {pattern}: no file matches")
    try:  # every check (source, partners, names, overwrites) before the first render
        plan = batch.plan_batch(graph, images, Path(args.out_dir), source=source, partners=partners)
    except batch.BatchError as exc:
        raise UsageError(f"--batch: {exc}") from None
    for node_id in plan.same_each_time:
        print(
            f"gateway-studio: note: {node_id} does not depend on the batch images: it writes "
            "the same picture for each of them",
            file=sys.stderr,
        )
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(plan.jobs), desc="render", unit="image", file=sys.stderr)
    try:
        reports = _run_batch_jobs(args, plan, evaluator, graph, lambda i: bar.update(i - bar.n))
    finally:
        bar.close()
    failed = sum(not r.ok for r in reports)
    _write_report(args.report, {"images": {r.name: r.to_json() for r in reports}, "failed": failed})
    print(f"{batch.summary(reports, len(plan.jobs))} into {plan.out_dir}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _batch_inputs(
    args: argparse.Namespace, graph: PatchGraph
) -> tuple[str, str | None, dict[str, str]]:
    """The batch glob, the node it feeds (None: the only source.image) and each partner
    node's naming rule, from --batch and --batch-input; two answers to one question are
    an error, never a silent last-wins."""
    bare: list[str] = []
    rules: dict[str, str] = {}
    for item in args.batch_input:
        node_id, _, rule = item.partition("=")
        if node_id not in graph:
            raise UsageError(f"--batch-input {item}: the patch has no node '{node_id}'")
        if node_id in rules or node_id in bare:
            raise UsageError(f"--batch-input {item}: '{node_id}' is given twice")
        if rule:
            rules[node_id] = rule
        else:
            bare.append(node_id)
    globs = [(n, r) for n, r in rules.items() if "{" not in r]
    partners = {n: r for n, r in rules.items() if "{" in r}
    feeds = [f"--batch {args.batch}"] if args.batch else []
    feeds += [f"--batch-input {n}={r}" for n, r in globs]
    if len(feeds) != 1:
        said = ", ".join(feeds) or "none"
        raise UsageError(
            f"name the batch images once: --batch GLOB or --batch-input NODE=GLOB (given: {said})"
        )
    if len(bare) > 1 or (bare and globs):
        raise UsageError(f"--batch-input: one node takes the batch images (given: {bare})")
    if globs:
        return globs[0][1], globs[0][0], partners
    return args.batch, (bare[0] if bare else None), partners


def _run_batch_jobs(
    args: argparse.Namespace,
    plan: batch.BatchPlan,
    evaluator: Evaluator,
    graph: PatchGraph,
    done: Callable[[int], object],
) -> list[batch.JobReport]:
    """In this process (--workers 1), else on Dask (engine/farm.py, imported only then);
    ``done(n)``: n images finished."""

    def progress(finished: int, _total: int, _name: str) -> None:
        done(finished)

    if args.workers == 1 and not args.scheduler:
        return batch.run_jobs(
            plan.jobs,
            evaluator,
            registry=graph.registry,
            progress=progress,
            listener=_stderr_listener(args.debug),
        )
    from gateway_studio.engine import farm

    settings = farm.FarmSettings(
        _absolute(args.cache_dir) if args.cache_dir else None, args.no_disk_cache
    )
    reports = farm.run_jobs_on_dask(
        plan.jobs,
        workers=args.workers,
        scheduler=args.scheduler,
        settings=settings,
        progress=progress,
    )
    for report in reports:
        if report.status == "failed":
            why = "; ".join(report.errors) or "failed"
            print(f"gateway-studio: {report.name} failed: {why}", file=sys.stderr)
    return reports
