"""What an evaluation tells its caller: events while it runs, then a result per node.

Events go to the evaluation's listener on the evaluating thread, in run order:
``NodeStarted`` → (``NodeProgress``)* → ``NodeFinished`` or ``NodeFailed`` per node,
each followed by ``Progress`` for the whole run. The ``Evaluation`` holds every node's
``NodeResult``; in a pulled run a node nobody needed is a lazy hit whose outputs are
read when ``Evaluation.output`` asks for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import GatewayError
from .reasons import Why, worded
from .slots import Slot

Status = Literal["computed", "cached", "failed", "skipped", "cancelled"]


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStarted:
    node_id: str


@dataclass(frozen=True)
class NodeProgress:
    node_id: str
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class NodeFinished:
    node_id: str
    seconds: float
    cached: bool
    #: "memory", "disk" for hits; "computed" otherwise.
    source: str = "computed"
    #: The node's output slots (read-only), so a UI can draw them as soon as they exist.
    outputs: dict[str, Slot] = field(default_factory=dict, compare=False, repr=False)
    #: Computed: what changed since it last ran (``reasons.Why``, put into words when
    #: ``reason`` is first read).
    why: Why | None = None

    @property
    def reason(self) -> str:
        """Computed: what changed since it last ran ("param fog.density 1.2 → 1.5")."""
        return worded(self.why)


@dataclass(frozen=True)
class NodeFailed:
    node_id: str
    error: str
    #: "failed" (its own error), "skipped" (an upstream node failed) or "cancelled".
    status: Status = "failed"


@dataclass(frozen=True)
class Progress:
    fraction: float
    done: int
    total: int


Event = NodeStarted | NodeProgress | NodeFinished | NodeFailed | Progress
Listener = Callable[[Event], None]


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(slots=True)  # (made for every node of every run)
class NodeResult:
    status: Status
    seconds: float = 0.0
    error: str | None = None
    outputs: dict[str, Slot] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    source: str = ""
    traceback: str | None = None
    #: Made from preview proxies (here or upstream): kept in memory only, never on disk.
    preview: bool = False
    #: Computed: what changed since the node last ran (``reason`` puts it into words).
    why: Why | None = None
    #: Pulled evaluations: a node nobody downstream needed (its consumers were cached),
    #: so neither read nor run (``outputs`` is empty until ``Evaluation.output`` asks).
    lazy: bool = False
    #: What the node said while it ran (``Context.note``: a fallback, a one-time cost).
    ran_notes: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Computed: what changed since the node last ran ("param fog.density 1.2 → 1.5")."""
        return worded(self.why)

    @property
    def notes(self) -> list[str]:
        """What the outputs say a user must know (holes filled, calibration, provenance),
        then what the node said while it ran."""
        return [note for slot in self.outputs.values() for note in slot.notes()] + list(
            self.ran_notes
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }
        if self.status == "computed":
            out["reason"] = self.reason
        elif self.status == "cached" and self.source:
            out["source"] = self.source  # memory / disk / bypass / not needed
        notes = self.notes
        if notes:
            out["notes"] = notes
        return out


@dataclass
class Evaluation:
    results: dict[str, NodeResult]
    seconds: float
    cancelled: bool = False
    #: Reads a lazy (pulled, unread) cache hit when someone asks for its outputs.
    loader: Callable[[str], NodeResult] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(
            r.status in ("computed", "cached") for r in self.results.values()
        )

    def output(self, node_id: str, slot: str | None = None) -> Slot:
        result = self.results[node_id]
        if result.lazy and self.loader is not None:
            result = self.loader(node_id)
        if result.status not in ("computed", "cached"):
            raise GatewayError(f"node '{node_id}' has no output: {result.error}")
        if slot is None:
            return next(iter(result.outputs.values()))
        return result.outputs[slot]

    def report(self) -> dict[str, Any]:
        return {
            "nodes": {nid: r.to_json() for nid, r in self.results.items()},
            "seconds": round(self.seconds, 6),
            "ok": self.ok,
            "cancelled": self.cancelled,
        }
