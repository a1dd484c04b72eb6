"""The model worker's server side, in process (no torch): requests in, answers out.

The process boundary itself (a real worker, killed mid-request, the app without torch)
is tested in tests/nodes/test_model_worker.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Context, Field, GatewayError, remote
from gateway_studio.engine.remote_server import Server


def answers(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def request(folder: Path, node: str, **extra: object) -> dict[str, object]:
    field = Field(np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4))
    return {
        "op": "run",
        "id": "r1",
        "node": node,
        "params": {"low": 0.25, "high": 0.75},
        "base_dir": None,
        "env": {"GATEWAY_STUDIO_DEVICE": "cpu", "GATEWAY_STUDIO_NOT_SET": None},
        "inputs": {"source": remote.slot_to_wire(field, folder)},
        **extra,
    }


def test_a_request_runs_the_node_and_answers_with_slot_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_DEVICE", "auto")  # restored after the test
    out = io.StringIO()
    server = Server(tmp_path, out)
    server.handle(request(tmp_path, "field.remap"))
    (done,) = answers(out)
    assert done["op"] == "done" and done["id"] == "r1"
    assert os.environ["GATEWAY_STUDIO_DEVICE"] == "cpu"  # the request's environment
    wire = done["outputs"]["field"]  # type: ignore[index]
    field = remote.slot_from_wire(wire, tmp_path)
    assert isinstance(field, Field)
    expected = np.clip((np.linspace(0, 1, 12) - 0.25) / 0.5, 0, 1).reshape(3, 4)
    np.testing.assert_allclose(field.values, expected, atol=1e-6)
    assert not list(tmp_path.iterdir())  # every file read once and removed


def test_errors_and_cancellation_are_answers_not_crashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_DEVICE", "auto")  # restored after the test
    out = io.StringIO()
    server = Server(tmp_path, out)
    server.handle(request(tmp_path, "no.such_node"))
    server.handle({**request(tmp_path, "field.remap"), "params": {"low": "high"}})
    (unknown, bad) = answers(out)
    assert unknown["op"] == "error" and "no.such_node" in str(unknown["error"])
    assert bad["op"] == "error" and not bad.get("cancelled")
    # a cancel that arrives while it runs: the node stops at its next check
    lines = io.StringIO(json.dumps({"op": "cancel", "id": "r2"}) + "\n")
    server.read(lines)
    assert "r2" in server.cancelled and server.requests.get() is None
    ctx_seen: list[bool] = []

    def slow(inputs: object, params: object, ctx: Context) -> dict[str, object]:
        ctx_seen.append(True)
        ctx.check_cancelled()
        raise AssertionError("not cancelled")

    class Registry:  # a node that checks for cancellation
        def get(self, type_id: str) -> object:
            return type("Spec", (), {"compute": staticmethod(slow)})()

    server.registry = Registry()  # type: ignore[assignment]
    server.handle({**request(tmp_path, "field.remap"), "id": "r2"})
    cancelled = answers(out)[-1]
    assert ctx_seen and cancelled == {
        "op": "error",
        "id": "r2",
        "error": "evaluation cancelled",
        "cancelled": True,
    }
    assert "r2" not in server.cancelled


def test_use_worker_is_off_unless_the_app_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not remote.worker_enabled()
    assert remote.run_remote("field.remap", {}, {}, Context()) is None
    remote.use_worker(True)
    try:
        assert remote.worker_enabled()
        monkeypatch.setenv("GATEWAY_STUDIO_MODEL_WORKER", "0")  # the worker itself
        assert not remote.worker_enabled()
    finally:
        remote.use_worker(False)


def test_unknown_slot_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GatewayError, match="unknown slot type"):
        remote.slot_from_wire({"type": "Pickle", "arrays": {}}, tmp_path)


def test_the_worker_process_yields_the_cpu_to_the_app() -> None:
    """Loading a model takes seconds of both cores: the worker runs below the app's
    priority so the UI thread wins them (a real process, no model needed)."""
    import time

    from gateway_studio.engine.remote_server import NICENESS

    worker = remote.ModelWorker()
    worker.start()
    try:
        pid = worker.pid
        assert pid is not None
        own = os.getpriority(os.PRIO_PROCESS, 0)
        deadline = time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, pid) == own and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(own + NICENESS, 19)
        # and it starts with the app's allocator (gateway_studio/malloc.py), which glibc
        # reads from the environment before any of torch's threads make arenas
        from gateway_studio.malloc import ENVIRON

        if sys.platform.startswith("linux"):
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            for key, value in ENVIRON.items():
                assert f"{key}={value}".encode() in environ
    finally:
        worker.stop()
