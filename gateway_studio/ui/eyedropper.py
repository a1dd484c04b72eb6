"""The depth eyedropper: click a pixel in the viewer to set the selected node's depth
knob (isolate's focus, atmosphere's start, a band's centre) to the depth under it.

Which knobs take a picked value is the node's own declaration (``Picks("depth")`` on the
param: the input it reads the value from), so new nodes join without touching the app.
The value comes from the slot feeding that input in the latest evaluation, at the same
relative position as the click (the viewer may show a preview proxy); a hole in the
depth is refused, never read as "far". All knobs set by one click are one undo step."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gateway_studio.engine import Depth, Field, ParamSpec, Slot

from .document import Document


def pickable(doc: Document, node_id: str) -> list[ParamSpec]:
    """The node's knobs that take a picked value and apply with its current params."""
    spec = doc.graph.spec(node_id)
    params = doc.graph.node(node_id).params
    defaults = {p.name: p.default for p in spec.params}
    return [p for p in spec.params if p.picks and p.applies(params, defaults)]


def value_under(slot: Slot, fx: float, fy: float) -> float | None:
    """The Depth/Field value at relative position (fx, fy) in [0, 1]²; None for a hole
    or a slot that holds no such value."""
    if not isinstance(slot, (Depth, Field)):
        return None
    h, w = slot.values.shape
    y = min(max(int(fy * h), 0), h - 1)
    x = min(max(int(fx * w), 0), w - 1)
    if isinstance(slot, Depth) and slot.valid is not None and not slot.valid[y, x]:
        return None
    return float(slot.values[y, x])


def pick(
    doc: Document,
    node_id: str,
    outputs: Mapping[str, Mapping[str, Slot]],
    fx: float,
    fy: float,
) -> str:
    """Set ``node_id``'s pickable knobs from the click; returns what happened, in words."""
    targets = pickable(doc, node_id)
    if not targets:
        return f"{node_id} has no depth knob to pick (try isolate, atmosphere or a band)"
    incoming = doc.graph.incoming(node_id)
    changes: list[tuple[ParamSpec, float]] = []
    for param in targets:
        assert param.picks is not None
        link = incoming.get(param.picks)
        if link is None:
            return f"connect {node_id}'s '{param.picks}' input to pick from it"
        src, slot_name = link
        slot = outputs.get(src, {}).get(slot_name)
        if slot is None:
            return f"{src} has no result yet: wait for it to evaluate"
        value = value_under(slot, fx, fy)
        if value is None:
            return "no depth under the cursor (a hole in the depth map): pick another pixel"
        step = param.step or 0.001
        changes.append((param, float(np.round(value / step) * step)))
    with doc.macro(f"pick {', '.join(p.name for p, _ in changes)}"):
        for param, value in changes:
            lo = param.min if param.min is not None else value
            hi = param.max if param.max is not None else value
            doc.set_param(node_id, param.name, min(max(value, lo), hi))
    return "picked " + ", ".join(f"{node_id}.{p.name} = {v:.3f}" for p, v in changes)
