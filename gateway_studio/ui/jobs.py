"""Export and batch renders: full resolution, through the engine's own ``output.export``
node (the same code path as ``gateway-studio render``), on a thread of their own."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal

from gateway_studio.engine.batch import output_names
from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.evaluator import CancelToken, Evaluator
from gateway_studio.engine.graph import Link, PatchGraph

EXPORT_TYPE = "output.export"
#: Default file kind per slot type when exporting.
DEFAULT_SUFFIX = {
    "Image": ".png",
    "Depth": ".png",
    "Field": ".png",
    "Mask": ".png",
    "Normals": ".png",
    "Faces": ".json",
    "PointCloud": ".ply",
}


#: Export dialog choices: (filter, suffix added when the name has none, bit depth).
EXPORT_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("PNG (*.png)", ".png", "auto"),
    ("PNG 16-bit (*.png)", ".png", "16"),
    ("TIFF 16-bit (*.tif *.tiff)", ".tif", "16"),
    ("TIFF 8-bit (*.tif *.tiff)", ".tif", "8"),
    ("JPEG (*.jpg *.jpeg)", ".jpg", "auto"),
    ("NumPy float array (*.npy)", ".npy", "auto"),
    ("Faces JSON (*.json)", ".json", "auto"),
    ("Point cloud (*.ply)", ".ply", "auto"),
)


def export_choice(path: str, selected_filter: str) -> tuple[Path, str]:
    """(file to write, bit depth) from the export dialog's answer: a name typed without an
    extension takes the chosen filter's; the filter also says 8 or 16 bit."""
    suffix, bits = next(
        ((sfx, b) for f, sfx, b in EXPORT_FILTERS if f == selected_filter), (".png", "auto")
    )
    target = Path(path)
    if not target.suffix:
        target = target.with_name(target.name + suffix)
    if target.suffix.lower() in (".jpg", ".jpeg"):
        bits = "auto"  # JPEG is 8-bit only
    return target, bits


def export_graph(
    graph: PatchGraph, node_id: str, slot: str | None, path: Path, bit_depth: str = "auto"
) -> tuple[PatchGraph, str]:
    """A copy of ``graph`` with an export node writing ``node_id.slot`` to ``path``
    (the file the user chose in the Export dialog: consented, see engine/consent.py)."""
    g = graph.snapshot()
    g.write_consent = g.write_consent.allow_file(path)
    spec = g.spec(node_id)
    if spec.writes_files:
        g.set_param(node_id, "path", str(path))
        if bit_depth != "auto" and spec.param("bit_depth") is not None:
            g.set_param(node_id, "bit_depth", bit_depth)
        return g, node_id
    slot = slot or next((o.name for o in spec.outputs if o.type_name != "Files"), None)
    if slot is None:
        raise GatewayError(f"{node_id} has no output to export")
    export_id = g.new_id(EXPORT_TYPE)
    g.add_node(EXPORT_TYPE, {"path": str(path), "bit_depth": bit_depth}, node_id=export_id)
    g.connect(Link(node_id, slot, export_id, "source"))
    return g, export_id


def final_node(graph: PatchGraph) -> str | None:
    """The node an Export without a selection writes, and the one shown first: what feeds
    an export node, else the picture-making node with the longest chain behind it."""
    candidates = [
        n
        for n in graph.topological_order()
        if not graph.spec(n).writes_files
        and any(o.type_name != "Files" for o in graph.spec(n).outputs)
    ]
    if not candidates:
        return None

    def rank(n: str) -> tuple[bool, bool, int]:
        successors = list(graph.graph.successors(n))
        feeds_writer = any(graph.spec(s).writes_files for s in successors)
        sink = all(graph.spec(s).writes_files for s in successors)
        return feeds_writer, sink, len(graph.ancestors(n))

    return max(candidates, key=rank)


def run_export(
    evaluator: Evaluator,
    graph: PatchGraph,
    node_id: str,
    slot: str | None,
    path: Path,
    cancel: CancelToken | None = None,
    bit_depth: str = "auto",
) -> list[str]:
    g, export_id = export_graph(graph, node_id, slot, path, bit_depth)
    evaluation = evaluator.evaluate(g, targets=[export_id], cancel=cancel)
    result = evaluation.results[export_id]
    if result.status not in ("computed", "cached"):
        failed = [f"{n}: {r.error}" for n, r in evaluation.results.items() if r.status == "failed"]
        raise GatewayError("; ".join(failed) or result.error or "export failed")
    files = result.outputs.get("files")
    return list(getattr(files, "paths", ()))


@dataclass
class BatchPlan:
    source_id: str
    images: list[Path]
    out_dir: Path
    #: Node to export when the patch has no export node.
    node_id: str | None = None
    suffix: str = ".png"
    errors: list[str] = field(default_factory=list)


def run_batch(
    evaluator: Evaluator,
    graph: PatchGraph,
    plan: BatchPlan,
    progress: Callable[[int, int, str], None],
    cancel: CancelToken | None = None,
) -> list[str]:
    """Render the patch once per image; returns the written files (errors in plan.errors)."""
    spec = graph.spec(plan.source_id)
    param = spec.read_path_param
    if param is None:
        raise GatewayError(f"{plan.source_id} reads no file, so it cannot take the batch images")
    exports = [n.id for n in graph.nodes() if graph.spec(n.id).writes_files]
    written: list[str] = []
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    names = output_names(plan.images)  # never two images onto one output file
    for i, image in enumerate(plan.images):
        if cancel is not None and cancel.cancelled:
            break
        progress(i, len(plan.images), image.name)
        g = graph.snapshot()
        g.write_consent = g.write_consent.allow_folder(plan.out_dir)  # the user chose it
        g.set_param(plan.source_id, param, str(image.resolve()))
        targets: list[str] = []
        if exports:
            for e in exports:
                template = Path(str(g.node(e).params.get("path") or "out.png"))
                tag = "" if len(exports) == 1 else f"_{e}"
                name = f"{names[str(image)]}{tag}{template.suffix}"
                g.set_param(e, "path", str(plan.out_dir / name))
                targets.append(e)
        else:
            node = plan.node_id or final_node(g)
            if node is None:
                raise GatewayError("the patch has nothing to render")
            target = plan.out_dir / f"{names[str(image)]}{plan.suffix}"
            g, export_id = export_graph(g, node, None, target)
            targets.append(export_id)
        evaluation = evaluator.evaluate(g, targets=targets, cancel=cancel)
        for t in targets:
            result = evaluation.results.get(t)
            if result is not None and result.status in ("computed", "cached"):
                written.extend(getattr(result.outputs.get("files"), "paths", ()))
            elif not evaluation.cancelled:
                failed = [
                    f"{n}: {r.error}" for n, r in evaluation.results.items() if r.status == "failed"
                ]
                plan.errors.append(f"{image.name}: {'; '.join(failed) or 'failed'}")
    progress(len(plan.images), len(plan.images), "done")
    return written


class Job(QObject):
    """Runs a function on a thread; reports progress and the result on the UI thread."""

    progress = Signal(int, int, str)
    done = Signal(object, str)  # result, error ("" when fine)

    def __init__(self, fn: Callable[..., Any], *args: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.token = CancelToken()
        self._fn, self._args = fn, args
        self._thread = threading.Thread(target=self._run, name="gateway-job", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            result = self._fn(*self._args, self.token)
        except GatewayError as exc:
            self.done.emit(None, str(exc))
        except OSError as exc:  # a folder that cannot be made or written: say so, no traceback
            self.done.emit(None, str(exc))
        except Exception as exc:
            self.done.emit(None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        else:
            self.done.emit(result, "")


def batch_images(folder: Path, suffixes: Sequence[str]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
