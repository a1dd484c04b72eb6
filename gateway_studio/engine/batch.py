"""Batch renders: one engine for the command line and the app.

A batch is a list of **jobs**. A job is plain data — the patch (as patch JSON), the files
its sources read (per-job input bindings) and the files its exports write (from the
naming rule) — so a job can be handed to another thread, process or machine as it is.
``run_job`` renders one and returns its ``JobReport``; ``run_jobs`` runs a list serially.

The rules, in one place:

* **One final node.** A patch without an export node writes its ``final_node``: what feeds
  an export, else the picture-making node with the longest chain behind it.
* **One naming rule.** ``out_dir / <name><tag><suffix>``: ``output_names`` keeps the images'
  tree and splits same stems; ``<tag>`` is ``_<export id>`` when the patch has several
  exports; the suffix is the export's own (or the batch's, for an added export).
* **One overwrite guard.** Before anything runs: no job may write a file that any job
  reads, and no two jobs (or exports) may write the same file.
* **No files for failed images.** A job first evaluates everything but its writers; only
  when all of that succeeded do the writers run. A failed image writes nothing.
* Exports that do not depend on the batch input write the same picture for every image;
  the plan names them (``same_each_time``) so the CLI and the app can say so.
* **Paired inputs.** Other source nodes can take a partner file per image by a naming rule
  (``depth='shots/{stem}_depth.png'``); a missing partner is a ``BatchError`` naming the
  image, before anything runs.

Jobs and reports cross process and machine boundaries as JSON text (``job_to_text`` /
``job_from_text``, ``report_to_text`` / ``report_from_text``): engine/farm.py runs them on
Dask without pickling anything of ours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .batch_pairs import PairingError, pair_inputs
from .errors import GatewayError
from .evaluator import CancelToken, Evaluator, Listener, NodeResult
from .graph import Link, PatchGraph
from .imageio import READ_SUFFIXES
from .node import Context
from .patch import patch_from_dict, patch_to_dict
from .registry import Registry, default_registry
from .slots import Files

EXPORT_TYPE = "output.export"
JobStatus = Literal["ok", "failed", "cancelled"]

#: The first bytes of the image files an artist has (PNG, JPEG, TIFF, WebP, HEIC/AVIF, BMP,
#: and OpenEXR, which ``output.export`` writes and whose header can carry its patch).
_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),
    (0, b"II*\x00"),
    (0, b"MM\x00*"),
    (8, b"WEBP"),
    (4, b"ftypheic"),
    (4, b"ftypheix"),
    (4, b"ftypmif1"),
    (4, b"ftypmsf1"),
    (4, b"ftyphevc"),
    (4, b"ftypavif"),
    (0, b"BM"),
    (0, b"v/1\x01"),
)


class BatchError(GatewayError):
    """A batch that cannot run as asked (before anything is rendered)."""


def is_image_file(path: str | Path) -> bool:
    """True when the file's first bytes are those of an image format (whatever its name
    says); a .png that is really JSON is not an image, a photo without a suffix is."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return any(head[at : at + len(magic)] == magic for at, magic in _MAGIC)


def image_files(folder: Path, suffixes: Sequence[str] = READ_SUFFIXES) -> list[Path]:
    """The images directly in ``folder``, by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def output_names(images: Sequence[str | Path]) -> dict[str, str]:
    """Output name (relative, without suffix) per batch image, never the same for two.

    The stem, under the image's folder relative to the folders' common parent (a
    recursive glob keeps its tree: a/x.png and b/x.png do not overwrite each other); two
    files of one stem in one folder (x.png, x.jpg) add their extension (x_png, x_jpg).
    Keys are the images as given (``str``)."""
    folders = [Path(os.path.abspath(image)).parent for image in images]
    common = Path(os.path.commonpath(folders)) if folders else Path()
    bases = [
        (folder.relative_to(common), Path(image).stem)
        for folder, image in zip(folders, images, strict=True)
    ]
    names: dict[str, str] = {}
    for image, (rel, stem) in zip(images, bases, strict=True):
        if bases.count((rel, stem)) > 1:
            stem = f"{stem}_{Path(image).suffix.lstrip('.').lower()}"
        names[str(image)] = str(rel / stem)
    return names


def final_node(graph: PatchGraph) -> str | None:
    """The node an export without a named node writes, and the one the app shows first:
    what feeds an export node, else the picture-making node with the longest chain behind
    it (ties: the later one in topological order)."""
    order = graph.topological_order()
    candidates = [
        n
        for n in order
        if not graph.spec(n).writes_files
        and any(o.type_name != "Files" for o in graph.spec(n).outputs)
    ]
    if not candidates:
        return None

    def role(n: str) -> tuple[bool, bool]:
        successors = list(graph.graph.successors(n))
        feeds_writer = any(graph.spec(s).writes_files for s in successors)
        sink = all(graph.spec(s).writes_files for s in successors)
        return feeds_writer, sink

    # the chain behind a node is counted only for those of the best role (a long chain
    # has one sink: counting every node's ancestors was quadratic)
    roles = {n: role(n) for n in candidates}
    top = max(roles.values())
    position = {n: i for i, n in enumerate(order)}
    finalists = [n for n in candidates if roles[n] == top]
    return max(finalists, key=lambda n: (len(graph.ancestors(n)), position[n]))


def add_export(graph: PatchGraph, node_id: str, path: str, slot: str | None = None) -> str:
    """Add an export node writing ``node_id``'s ``slot`` (default: its first picture)."""
    spec = graph.spec(node_id)
    slot = slot or next((o.name for o in spec.outputs if o.type_name != "Files"), None)
    if slot is None:
        raise BatchError(f"node '{node_id}' ({spec.type_id}) has no output to export")
    export_id = graph.new_id(EXPORT_TYPE)
    graph.add_node(EXPORT_TYPE, {"path": path}, node_id=export_id)
    graph.connect(Link(node_id, slot, export_id, "source"))
    return export_id


def writers(graph: PatchGraph) -> list[str]:
    return [n.id for n in graph.nodes() if graph.spec(n.id).writes_files]


def file_params(graph: PatchGraph, *, save: bool) -> dict[Path, str]:
    """Resolved paths that nodes write (``save``) or read, each with its "node.param"."""
    ctx = Context(base_dir=graph.base_dir)
    found: dict[Path, str] = {}
    for inst in graph.nodes():
        for p in graph.spec(inst.id).params:
            value = inst.params.get(p.name, p.default)
            if p.kind == "path" and p.save == save and value:
                found[ctx.resolve_path(str(value)).resolve()] = f"{inst.id}.{p.name}"
    return found


def refuse_overwriting_inputs(graph: PatchGraph) -> None:
    """An export onto a file the patch reads would destroy the photo (e.g. a batch whose
    output folder is the images' own folder): refuse before anything is written."""
    reads = file_params(graph, save=False)
    for path, ref in file_params(graph, save=True).items():
        if path in reads:
            raise BatchError(
                f"{ref} would overwrite {path}, which {reads[path]} reads; write the output "
                "somewhere else"
            )


# ------------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class BatchJob:
    """One render of a batch, as plain data."""

    #: What the report calls it (the image as given).
    name: str
    #: The patch, as patch JSON data (``patch_to_dict``).
    patch: Mapping[str, Any]
    #: Folder the patch's relative paths resolve against.
    base_dir: str | None
    #: node id → file its read-path param reads for this job.
    inputs: Mapping[str, str]
    #: node id → file its save-path param writes for this job.
    outputs: Mapping[str, str]


@dataclass
class JobReport:
    name: str
    status: JobStatus
    written: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The evaluation report (status, seconds, error, reason per node).
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "written": self.written,
            "errors": self.errors,
            **self.report,
        }


def job_to_text(job: BatchJob) -> str:
    """The job as JSON text (what crosses to another process or machine)."""
    return json.dumps(
        {
            "name": job.name,
            "patch": job.patch,
            "base_dir": job.base_dir,
            "inputs": dict(job.inputs),
            "outputs": dict(job.outputs),
        }
    )  # keys in their order: the patch a picture embeds is the same text as a serial run


def _str_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BatchError(f"a batch job's {what} must map node ids to file paths")
    return dict(value)


def job_from_text(text: str) -> BatchJob:
    """``job_to_text`` read back, checked as data (``BatchError`` naming what is wrong)."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise BatchError("a batch job must be a JSON object with a name")
    if not isinstance(data.get("patch"), dict):
        raise BatchError(f"batch job {data['name']}: its patch must be a JSON object")
    base = data.get("base_dir")
    if base is not None and not isinstance(base, str):
        raise BatchError(f"batch job {data['name']}: base_dir must be a path or null")
    return BatchJob(
        data["name"],
        data["patch"],
        base,
        _str_map(data.get("inputs"), "inputs"),
        _str_map(data.get("outputs"), "outputs"),
    )


def report_to_text(report: JobReport) -> str:
    return json.dumps(
        {
            "name": report.name,
            "status": report.status,
            "written": report.written,
            "errors": report.errors,
            "report": report.report,
        }
    )


def report_from_text(text: str) -> JobReport:
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("status") not in ("ok", "failed", "cancelled"):
        raise BatchError("a batch job's report must be a JSON object with a status")
    return JobReport(
        str(data["name"]),
        data["status"],
        [str(p) for p in data.get("written", [])],
        [str(e) for e in data.get("errors", [])],
        dict(data.get("report", {})),
    )


@dataclass
class BatchPlan:
    jobs: list[BatchJob]
    out_dir: Path
    #: Export nodes that do not depend on the batch input (the same picture each time).
    same_each_time: list[str] = field(default_factory=list)


def batch_source(graph: PatchGraph, source: str | None = None) -> str:
    """The node the batch images feed: ``source``, else the patch's only ``source.image``."""
    if source is None:
        sources = [n.id for n in graph.nodes() if n.type_id == "source.image"]
        if len(sources) != 1:
            raise BatchError(
                "say which source node the images feed "
                f"(source.image nodes: {', '.join(sources) or 'none'})"
            )
        source = sources[0]
    if source not in graph:
        raise BatchError(f"the patch has no node '{source}'")
    if graph.spec(source).read_path_param is None:
        raise BatchError(f"node '{source}' ({graph.spec(source).type_id}) reads no file")
    return source


def plan_batch(
    graph: PatchGraph,
    images: Sequence[str | Path],
    out_dir: Path,
    *,
    source: str | None = None,
    suffix: str = ".png",
    node: str | None = None,
    partners: Mapping[str, str] | None = None,
) -> BatchPlan:
    """One job per image, named and checked by the rules above (``BatchError`` before
    anything runs). ``node``: what to write when the patch has no export node (default:
    its final node). ``partners``: node id → naming rule of the file it reads for each
    image (``pair_inputs``). ``graph`` is not changed."""
    g = graph.snapshot()
    source = batch_source(g, source)
    for other in partners or {}:
        if other == source:
            raise BatchError(f"'{other}' is fed the batch images; it cannot also take partners")
        batch_source(g, other)  # exists and reads a file
    try:
        images, paired = pair_inputs(images, partners or {})
    except PairingError as exc:
        raise BatchError(str(exc)) from None
    if not images:
        raise BatchError("no images to render")
    exports = writers(g)
    if not exports:
        target = node or final_node(g)
        if target is None:
            raise BatchError("the patch has nothing to render")
        exports = [add_export(g, target, f"out{suffix}")]
    fed = g.descendants(source)
    same = [e for e in exports if e not in fed]
    out_dir = Path(os.path.abspath(out_dir))
    names = output_names(images)
    data = patch_to_dict(g)
    base = str(g.base_dir) if g.base_dir is not None else None
    jobs = []
    for image in images:
        outputs = {}
        for e in exports:
            template = Path(str(g.node(e).params.get(g.spec(e).save_path_param or "path") or ""))
            tag = "" if len(exports) == 1 else f"_{e}"
            name = f"{names[str(image)]}{tag}{template.suffix or suffix}"
            outputs[e] = str(out_dir / name)
        inputs = {source: os.path.abspath(image), **paired[str(image)]}
        jobs.append(BatchJob(str(image), data, base, inputs, outputs))
    plan = BatchPlan(jobs, out_dir, same)
    check_plan(plan, graph.registry)
    return plan


def job_graph(job: BatchJob, registry: Registry | None = None) -> PatchGraph:
    """The job's patch with its inputs and outputs bound."""
    base = Path(job.base_dir) if job.base_dir else None
    graph = patch_from_dict(dict(job.patch), registry or default_registry(), base_dir=base)
    for node_id, path in job.inputs.items():
        param = graph.spec(node_id).read_path_param
        if param is None:
            raise BatchError(f"node '{node_id}' reads no file")
        graph.set_param(node_id, param, path)
    for node_id, path in job.outputs.items():
        param = graph.spec(node_id).save_path_param
        if param is None:
            raise BatchError(f"node '{node_id}' writes no file")
        graph.set_param(node_id, param, path)
        # named from the output folder the user chose: consented (engine/consent.py)
        graph.write_consent = graph.write_consent.allow_file(path)
    return graph


def check_plan(plan: BatchPlan, registry: Registry | None = None) -> None:
    """The overwrite guard: no job writes what any job reads, no file is written twice."""
    reads: dict[Path, str] = {}
    graphs = [(job, job_graph(job, registry)) for job in plan.jobs]
    if graphs:  # an unwired input fails every image alike: say so once, before any render
        graphs[0][1].check_ready()
    for job, g in graphs:
        for path, ref in file_params(g, save=False).items():
            reads.setdefault(path, f"{ref} (for {Path(job.name).name})")
    written: dict[Path, str] = {}
    for job, g in graphs:
        for path, ref in file_params(g, save=True).items():
            if path in reads:
                raise BatchError(
                    f"{ref} would overwrite {path}, which {reads[path]} reads; write the "
                    "outputs somewhere else"
                )
            if path in written:
                raise BatchError(f"{ref} and {written[path]} would both write {path}")
            written[path] = f"{ref} (for {Path(job.name).name})"


def run_job(
    job: BatchJob,
    evaluator: Evaluator,
    *,
    registry: Registry | None = None,
    cancel: CancelToken | None = None,
    listener: Listener | None = None,
) -> JobReport:
    """Render one job: everything but its writers first; the writers only if all of that
    succeeded, so a failed image writes nothing."""
    graph = job_graph(job, registry)
    sinks = writers(graph)
    upstream = [n for n in graph.topological_order() if n not in sinks]
    first = evaluator.evaluate(
        graph, targets=upstream, strict=True, cancel=cancel, listener=listener, pull=True
    )
    results = dict(first.results)
    if first.ok:
        second = evaluator.evaluate(
            graph, targets=sinks, strict=True, cancel=cancel, listener=listener, pull=True
        )
        # upstream nodes come back as cache hits of the first pass: keep what they did
        results.update({n: r for n, r in second.results.items() if n not in results})
        seconds, cancelled = first.seconds + second.seconds, second.cancelled
    else:
        seconds, cancelled = first.seconds, first.cancelled
    ok = not cancelled and all(r.status in ("computed", "cached") for r in results.values())
    for sink in sinks:
        if sink not in results:
            results[sink] = NodeResult("skipped", error="not written: the image failed upstream")
    written = [
        path
        for r in results.values()
        for slot in r.outputs.values()
        if isinstance(slot, Files)
        for path in slot.paths
    ]
    errors = [f"{n}: {r.error}" for n, r in results.items() if r.status == "failed"]
    status: JobStatus = "cancelled" if cancelled else ("ok" if ok else "failed")
    report = {
        "nodes": {n: r.to_json() for n, r in results.items()},
        "seconds": round(seconds, 6),
        "ok": ok,
        "cancelled": cancelled,
    }
    return JobReport(job.name, status, written if ok else [], errors, report)


def run_jobs(
    jobs: Sequence[BatchJob],
    evaluator: Evaluator,
    *,
    registry: Registry | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    listener: Listener | None = None,
) -> list[JobReport]:
    """Run the jobs one after another (they share the evaluator's cache: a model's output
    for one image is not recomputed for the next render of it)."""
    reports: list[JobReport] = []
    for i, job in enumerate(jobs):
        if cancel is not None and cancel.cancelled:
            break
        if progress is not None:
            progress(i, len(jobs), Path(job.name).name)
        reports.append(run_job(job, evaluator, registry=registry, cancel=cancel, listener=listener))
    if progress is not None:
        progress(len(jobs), len(jobs), "done")
    return reports


def summary(reports: Sequence[JobReport], planned: int) -> str:
    """One line: what was written and what failed, honestly."""
    ok = [r for r in reports if r.ok]
    failed = [r for r in reports if r.status == "failed"]
    files = sum(len(r.written) for r in ok)
    text = f"rendered {len(ok)} of {planned} images ({files} file(s) written)"
    if failed:
        text += f"; {len(failed)} failed and wrote nothing"
    if len(reports) < planned or any(r.status == "cancelled" for r in reports):
        text += "; cancelled"
    return text
