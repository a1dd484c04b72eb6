"""Model nodes in the model-worker process (``gateway_studio/engine/remote.py``).

The app's process never imports torch; slots cross as .npy files in shared memory (never
pickled); a worker killed mid-request fails that node with a message, and the next
evaluation starts a new worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import (
    Context,
    Evaluator,
    GatewayError,
    Image,
    Link,
    PatchGraph,
    default_registry,
    remote,
)
from gateway_studio.engine.evaluator import NodeProgress
from gateway_studio.engine.imageio import write_image
from gateway_studio.engine.models.compiled import missing_packages
from gateway_studio.engine.slots import Depth, Segments
from nodes.depth import estimate
from tests.conftest import ROOT
from tests.nodes.tiny_models import save_tiny_depth_anything


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_depth_anything(tmp_path_factory.mktemp("mw") / "tiny-da", size=126)


@pytest.fixture
def worker() -> Iterator[remote.ModelWorker]:
    remote.use_worker(True)
    try:
        yield remote.worker()
    finally:
        remote.use_worker(False)
        remote.worker().stop()


def photo(tmp_path: Path) -> tuple[Path, Image]:
    rng = np.random.default_rng(3)
    image = Image(rng.random((60, 80, 3), dtype=np.float32))
    return write_image(tmp_path / "photo.png", image), image


def graph_for(path: Path, model: Path) -> PatchGraph:
    graph = PatchGraph(default_registry())
    graph.add_node("source.image", {"path": str(path)}, node_id="photo")
    graph.add_node("depth.estimate", {"model": str(model), "runtime": "torch"}, node_id="depth")
    graph.connect(Link("photo", "image", "depth", "image"))
    return graph


def test_slots_cross_as_files_and_never_as_pickles(tmp_path: Path) -> None:
    depth = Depth.from_inverse(np.linspace(0, 2, 12, dtype=np.float32).reshape(3, 4))
    wire = remote.slot_to_wire(depth, tmp_path)
    assert json.loads(json.dumps(wire)) == wire  # plain JSON
    back = remote.slot_from_wire(wire, tmp_path)
    assert isinstance(back, Depth) and np.array_equal(back.values, depth.values)
    assert back.raw_range == depth.raw_range
    assert not list(tmp_path.iterdir())  # read once, then deleted
    segments = Segments(np.zeros((2, 2), np.int32), ("a",))
    wire = remote.slot_to_wire(segments, tmp_path)
    wire["arrays"]["labels"] = str(tmp_path.parent / "elsewhere.npy")
    with pytest.raises(GatewayError, match="outside its exchange folder"):
        remote.slot_from_wire(wire, tmp_path)
    (tmp_path / "obj.npy").write_bytes(b"")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        remote.slot_from_wire(
            {"type": "Field", "meta": {}, "arrays": {"values": str(tmp_path / "obj.npy")}},
            tmp_path,
        )


def test_the_worker_computes_what_the_node_computes_here(
    tiny: Path, tmp_path: Path, worker: remote.ModelWorker
) -> None:
    _, image = photo(tmp_path)
    here = estimate(image, model=str(tiny), runtime="torch", ctx=Context())
    remote.use_worker(True)
    messages: list[str] = []
    ctx = Context(report=lambda f, m: messages.append(m))
    there = estimate(image, model=str(tiny), runtime="torch", ctx=ctx)
    assert worker.alive() and worker.pid != os.getpid()
    np.testing.assert_array_equal(there.values, here.values)
    assert there.raw_range == here.raw_range
    assert "inference (torch)" in messages  # the worker's progress reached this context
    assert any(m.startswith("done in the model worker") for m in messages)


def test_killing_the_worker_fails_the_node_and_the_next_run_restarts_it(
    tiny: Path, tmp_path: Path, worker: remote.ModelWorker
) -> None:
    path, _ = photo(tmp_path)
    graph = graph_for(path, tiny)
    killed: list[int] = []
    starts = worker.starts

    def listener(event: object) -> None:  # kill it as soon as it reports progress
        if isinstance(event, NodeProgress) and event.node_id == "depth" and not killed:
            pid = worker.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    result = Evaluator().evaluate(graph, listener=listener)
    failed = result.results["depth"]
    assert failed.status == "failed"
    assert failed.error is not None
    assert "the model worker stopped (killed by SIGKILL) while running depth.estimate" in (
        failed.error
    )
    assert result.results["photo"].status == "computed"  # the rest of the graph is fine
    again = Evaluator().evaluate(graph)
    assert again.results["depth"].status == "computed"
    assert worker.pid not in killed and worker.starts == starts + 2  # started, restarted


def test_a_cancelled_evaluation_stops_the_node_in_the_worker(
    tiny: Path, tmp_path: Path, worker: remote.ModelWorker
) -> None:
    from gateway_studio.engine import CancelToken

    path, _ = photo(tmp_path)
    token = CancelToken()
    starts = worker.starts

    def listener(event: object) -> None:
        if isinstance(event, NodeProgress) and event.node_id == "depth":
            token.cancel()

    result = Evaluator().evaluate(graph_for(path, tiny), listener=listener, cancel=token)
    assert result.results["depth"].status == "cancelled"
    assert worker.alive()  # cancelled, not killed: the next request reuses it
    assert Evaluator().evaluate(graph_for(path, tiny)).results["depth"].status == "computed"
    assert worker.starts == starts + 1


_APP = """
import os, sys, json, time
from pathlib import Path
from qtpy.QtWidgets import QApplication
from gateway_studio.engine import Evaluator, SlotCache, remote
from gateway_studio.ui.main_window import MainWindow

app = QApplication([])
remote.use_worker(True)  # as gateway_studio.ui.app.main does
window = MainWindow(evaluator=Evaluator(SlotCache(None)), autosave_seconds=3600)
window.show()
finished = []  # the whole evaluation's answer, which carries the notes; a node's
window.controller.evaluated.connect(finished.append)  # own "computed" event comes first
window.files.open_path(Path(sys.argv[1]), ask=False)
deadline = time.monotonic() + 240
while time.monotonic() < deadline:
    app.processEvents()
    st = window.controller.state("depth")
    if finished and st.status in ("computed", "cached", "failed"):
        break
    time.sleep(0.01)
print(json.dumps({
    "status": st.status, "message": st.message, "notes": list(st.notes),
    "heavy": sorted(m for m in ("torch", "transformers", "openvino") if m in sys.modules),
}))
window.doc.undo_stack.setClean()
window.shutdown()
"""


def test_the_app_evaluates_depth_without_importing_torch(tiny: Path, tmp_path: Path) -> None:
    path, _ = photo(tmp_path)
    patch = tmp_path / "depth.json"
    graph_for(path, tiny)  # the same nodes, written as a patch file:
    patch.write_text(
        json.dumps(
            {
                "format": "gateway-studio.patch",
                "version": 1,
                "nodes": [
                    {"id": "photo", "type": "source.image", "params": {"path": str(path)}},
                    {"id": "depth", "type": "depth.estimate", "params": {"model": str(tiny)}},
                ],
                "links": [{"from": "photo.image", "to": "depth.image"}],
            }
        )
    )
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        GATEWAY_STUDIO_CACHE=str(tmp_path / "cache"),
        GATEWAY_STUDIO_CONFIG=str(tmp_path / "config"),
    )
    done = subprocess.run(
        [sys.executable, "-c", _APP, str(patch)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "computed", out
    assert out["heavy"] == [], out  # torch, transformers, openvino: only in the worker
    if not missing_packages("openvino"):  # auto ran OpenVINO, and said what it cost
        assert any(
            n.startswith("runtime: openvino") and "exported once" in n for n in out["notes"]
        ), out
