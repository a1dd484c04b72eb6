"""The model-worker process: runs model nodes for the app (``remote.py`` is the client).

    python -m gateway_studio.engine.remote_server EXCHANGE_FOLDER

Reads JSON requests from stdin (one a line), runs each node with the default registry
in this process (torch, transformers and the runtimes load here, never in the app), and
answers on stdout. Anything else that writes to stdout (a library's print) goes to stderr
instead, so the protocol stays clean. Closing stdin ends the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

from .errors import Cancelled, GatewayError
from .node import Context
from .registry import default_registry
from .remote import slot_from_wire, slot_to_wire


class Server:
    def __init__(self, folder: Path, out: IO[str]) -> None:
        self.folder = folder
        self.out = out
        self.out_lock = threading.Lock()
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.cancelled: set[str] = set()
        self.registry = default_registry()

    def send(self, message: dict[str, Any]) -> None:
        with self.out_lock:
            self.out.write(json.dumps(message) + "\n")
            self.out.flush()

    def read(self, stream: IO[str]) -> None:
        """stdin → the request queue; ``cancel`` messages take effect at once."""
        for line in stream:
            if not line.strip():
                continue
            message = json.loads(line)
            if message.get("op") == "cancel":
                self.cancelled.add(str(message.get("id")))
            else:
                self.requests.put(message)
        self.requests.put(None)

    def handle(self, request: dict[str, Any]) -> None:
        rid = str(request.get("id"))
        try:
            for key, value in dict(request.get("env", {})).items():
                if value is None:
                    os.environ.pop(str(key), None)
                else:
                    os.environ[str(key)] = str(value)
            spec = self.registry.get(str(request["node"]))
            inputs = {
                str(name): slot_from_wire(wire, self.folder)
                for name, wire in dict(request.get("inputs", {})).items()
            }
            base = request.get("base_dir")
            ctx = Context(
                node_id=rid,
                base_dir=None if base is None else Path(str(base)),
                preview=bool(request.get("preview", False)),
                report=lambda f, m: self.send(
                    {"op": "progress", "id": rid, "fraction": f, "message": m}
                ),
                cancelled=lambda: rid in self.cancelled,
            )
            outputs = spec.compute(inputs, dict(request.get("params", {})), ctx)
            wires = {name: slot_to_wire(slot, self.folder) for name, slot in outputs.items()}
            self.send({"op": "done", "id": rid, "outputs": wires, "notes": ctx.notes})
        except Cancelled as exc:
            self.send({"op": "error", "id": rid, "error": str(exc), "cancelled": True})
        except GatewayError as exc:
            self.send({"op": "error", "id": rid, "error": str(exc)})
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.send({"op": "error", "id": rid, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            self.cancelled.discard(rid)


#: The model worker's scheduling priority below the app's (``os.nice``): loading and
#: running a model takes whole seconds of both cores, and the app's UI thread must win
#: them whenever it has something to draw.
NICENESS = 5


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):  # not allowed here: the app's priority, then
            os.nice(NICENESS)
    # The protocol owns the real stdout; everything else printing goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    server = Server(folder, out)
    threading.Thread(target=server.read, args=(sys.stdin,), daemon=True).start()
    while True:
        request = server.requests.get()
        if request is None:
            return 0
        server.handle(request)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
