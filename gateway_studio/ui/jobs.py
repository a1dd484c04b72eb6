"""Exports on a thread of their own: full resolution, through the engine's own
``output.export`` node (the same code path as ``gateway-studio render``). Batch renders are
the engine's (``engine/batch.py``, run by ``batch_dialog.py``)."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal

from gateway_studio.engine.errors import GatewayError
from gateway_studio.engine.evaluator import CancelToken, Evaluator
from gateway_studio.engine.graph import Link, PatchGraph
from gateway_studio.malloc import give_back

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
    ("OpenEXR (*.exr)", ".exr", "auto"),
    ("OpenEXR 32-bit float (*.exr)", ".exr", "32"),
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
    suffix = target.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        bits = "auto"  # JPEG is 8-bit only
    elif suffix == ".exr" and bits != "32":
        bits = "auto"  # .exr holds half (auto) or float (32), never 8 or 16-bit integers
    elif suffix != ".exr" and bits == "32":
        bits = "auto"  # float is for .exr only
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
        finally:
            give_back()  # the job's full-resolution frames, kept by the heap: see malloc.py
