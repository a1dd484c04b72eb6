"""Model nodes in a model-worker process: the app never imports torch.

Spec
----
* ``use_worker(True)`` (the app does it at start; the CLI and scripts run models in
  process) makes ``run_remote`` send model nodes to one persistent worker process,
  ``python -m gateway_studio.engine.remote_server``, started on first use.
* A request crosses as one JSON line on the worker's stdin: node type, params, the patch
  folder, the model-store environment, and each input slot as its ``to_arrays`` metadata
  plus array *files* in a private folder in shared memory (``/dev/shm`` where there is
  one, else the temp folder), written with ``np.save(allow_pickle=False)``. Outputs come
  back the same way. Nothing is ever pickled; an object array is refused by numpy.
* The worker answers with JSON lines: ``progress`` (forwarded to the node's context),
  then ``done`` (outputs + notes) or ``error`` (message, and whether it was a
  cancellation). A cancelled evaluation sends ``cancel``; the worker stops at the node's
  next ``check_cancelled``.
* The worker dying mid-request (a crash in a native runtime, or killed) fails that node
  with a ``GatewayError`` naming the exit status; the next request starts a new worker.
* One request at a time (a lock): the app evaluates on one thread.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import Cancelled, GatewayError
from .node import Context
from .slots import SLOT_TYPES, Slot

#: Environment variables the worker takes from each request (the model store's).
FORWARDED_ENV = (
    "GATEWAY_STUDIO_MODELS",
    "GATEWAY_STUDIO_DEVICE",
    "GATEWAY_STUDIO_CACHE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HF_HUB_OFFLINE",
)
#: How often a waiting request checks for cancellation (seconds).
POLL = 0.05

_enabled = False


def use_worker(enabled: bool = True) -> None:
    """Run model nodes in the worker process (the app), or in this one (default)."""
    global _enabled
    _enabled = enabled


def worker_enabled() -> bool:
    return _enabled and os.environ.get("GATEWAY_STUDIO_MODEL_WORKER", "1") != "0"


# ----------------------------------------------------------------------------- slots
def exchange_root() -> Path:
    """Shared memory where the OS has it as a folder, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def slot_to_wire(slot: Slot, folder: Path) -> dict[str, Any]:
    """Write a slot's arrays as .npy files in ``folder``; its JSON description."""
    arrays, meta = slot.to_arrays()
    files = {}
    for name, array in arrays.items():
        path = folder / f"{uuid.uuid4().hex}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = str(path)
    return {"type": slot.type_name, "meta": meta, "arrays": files}


def slot_from_wire(wire: Mapping[str, Any], folder: Path) -> Slot:
    """Read a slot written by ``slot_to_wire`` (files inside ``folder`` only), deleting
    its files."""
    slot_type = SLOT_TYPES.get(str(wire.get("type")))
    if slot_type is None:
        raise GatewayError(f"model worker: unknown slot type {wire.get('type')!r}")
    arrays = {}
    root = folder.resolve()
    for name, file in dict(wire.get("arrays", {})).items():
        path = Path(str(file)).resolve()
        if path.parent != root:
            raise GatewayError(f"model worker: slot file outside its exchange folder: {path}")
        try:
            arrays[str(name)] = np.load(path, allow_pickle=False)
        finally:
            path.unlink(missing_ok=True)
    return slot_type.from_arrays(arrays, dict(wire.get("meta", {})))


# ----------------------------------------------------------------------------- client
class ModelWorker:
    """The client side of one worker process (started lazily, restarted after a death)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self.folder = exchange_root() / f"gateway-studio-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the worker now (the app does it ahead of the first model node)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lines = queue.Queue()
        from gateway_studio.malloc import ENVIRON  # the app's allocator, from the start

        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway_studio.engine.remote_server", str(self.folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env={**os.environ, **ENVIRON, "GATEWAY_STUDIO_MODEL_WORKER": "0"},
        )
        assert proc.stdout is not None
        threading.Thread(
            target=_pump, args=(proc.stdout, self._lines), name="model-worker-out", daemon=True
        ).start()
        self._proc = proc
        self.starts += 1
        return proc

    def _send(self, proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the reader sees the end of its output and says how

    def run(
        self,
        type_id: str,
        inputs: Mapping[str, Slot],
        params: Mapping[str, Any],
        ctx: Context,
    ) -> dict[str, Slot]:
        """Run node ``type_id`` in the worker; its outputs (see the module docstring)."""
        with self._lock:
            proc = self._ensure()
            request_id = uuid.uuid4().hex
            wires = {name: slot_to_wire(slot, self.folder) for name, slot in inputs.items()}
            self._send(
                proc,
                {
                    "op": "run",
                    "id": request_id,
                    "node": type_id,
                    "params": dict(params),
                    "base_dir": None if ctx.base_dir is None else str(ctx.base_dir),
                    "preview": ctx.preview,
                    "env": {k: os.environ.get(k) for k in FORWARDED_ENV},
                    "inputs": wires,
                },
            )
            try:
                return self._wait(proc, request_id, type_id, ctx)
            finally:
                for wire in wires.values():  # unread inputs (the worker died first)
                    for file in wire["arrays"].values():
                        Path(file).unlink(missing_ok=True)

    def _wait(
        self, proc: subprocess.Popen[str], request_id: str, type_id: str, ctx: Context
    ) -> dict[str, Slot]:
        cancel_sent = False
        while True:
            if not cancel_sent:
                try:
                    ctx.check_cancelled()
                except Cancelled:
                    self._send(proc, {"op": "cancel", "id": request_id})
                    cancel_sent = True  # it stops at the node's next check
            try:
                line = self._lines.get(timeout=POLL)
            except queue.Empty:
                continue
            if line is None:  # the worker's output ended: it died
                raise GatewayError(_death(proc, type_id))
            message = json.loads(line)
            if message.get("id") != request_id:
                continue  # a late answer to an earlier, abandoned request
            op = message.get("op")
            if op == "progress":
                ctx.progress(float(message["fraction"]), str(message.get("message", "")))
            elif op == "done":
                outputs = {
                    name: slot_from_wire(wire, self.folder)
                    for name, wire in message["outputs"].items()
                }
                if cancel_sent:  # finished before it saw the cancel: still cancelled
                    raise Cancelled("evaluation cancelled")
                for note in message.get("notes", []):
                    ctx.note(str(note))
                return outputs
            elif op == "error":
                if message.get("cancelled"):
                    raise Cancelled(str(message.get("error", "cancelled")))
                raise GatewayError(str(message.get("error", "the model worker failed")))

    def stop(self) -> None:
        """End the worker (closing its input ends it; killed if it does not go)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(timeout=3)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait(timeout=3)
        shutil.rmtree(self.folder, ignore_errors=True)


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        if line.strip():
            lines.put(line)
    lines.put(None)


def _death(proc: subprocess.Popen[str], type_id: str) -> str:
    try:
        code = proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    return (
        f"the model worker stopped ({how}) while running {type_id}; "
        "the next evaluation starts a new one"
    )


_worker: ModelWorker | None = None
_worker_lock = threading.Lock()


def worker() -> ModelWorker:
    """This process's one model worker (not started until used)."""
    global _worker
    with _worker_lock:
        if _worker is None:
            _worker = ModelWorker()
            atexit.register(_worker.stop)
        return _worker


def run_remote(
    type_id: str, inputs: Mapping[str, Slot], params: Mapping[str, Any], ctx: Context
) -> dict[str, Slot] | None:
    """The node's outputs computed in the worker, or None to compute here (no worker)."""
    if not worker_enabled():
        return None
    t0 = time.perf_counter()
    out = worker().run(type_id, inputs, params, ctx)
    ctx.progress(1.0, f"done in the model worker ({time.perf_counter() - t0:.1f} s)")
    return out
