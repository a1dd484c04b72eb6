"""Tiny nodes for engine tests: no torch, no Qt, counted calls."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

import numpy as np

from gateway_studio.engine import (
    Context,
    Depth,
    Field,
    FilePath,
    GatewayError,
    Help,
    Image,
    Range,
    Registry,
    node,
)
from gateway_studio.engine.imageio import read_image

CALLS: Counter[str] = Counter()


@node("test.const", outputs={"field": Field})
def const(
    *,
    value: Annotated[float, Range(0, 1, 0.1), Help("the constant")] = 0.5,
    size: Annotated[int, Range(1, 4096)] = 8,
) -> Field:
    CALLS["test.const"] += 1
    return Field(np.full((size, size), value, dtype=np.float32))


@node("test.add", outputs={"field": Field})
def add(a: Field, b: Field | None = None, *, gain: Annotated[float, Range(0, 4)] = 1.0) -> Field:
    CALLS["test.add"] += 1
    total = a.values if b is None else a.values + b.values
    return Field(np.clip(total * gain, 0, 1).astype(np.float32))


@node("test.fail", outputs={"field": Field})
def fail(a: Field, *, message: str = "boom") -> Field:
    CALLS["test.fail"] += 1
    raise GatewayError(message)


@node("test.crash", outputs={"field": Field})
def crash(a: Field) -> Field:
    raise ZeroDivisionError("division by zero")


@node("test.depth", outputs={"depth": Depth, "field": Field}, proxy=False)
def depth(*, size: Annotated[int, Range(1, 4096)] = 8) -> dict[str, Depth | Field]:
    CALLS["test.depth"] += 1
    ramp = np.linspace(0, 1, size * size, dtype=np.float32).reshape(size, size)
    return {"depth": Depth(ramp), "field": Field(1 - ramp)}


@node("test.read", outputs={"image": Image}, proxy=False)
def read(*, path: FilePath = "", ctx: Context) -> Image:
    CALLS["test.read"] += 1
    ctx.progress(0.5, "reading")
    return read_image(ctx.resolve_path(path))


@node("test.size", outputs={"field": Field})
def size_of(image: Image, *, mode: Literal["mean", "max"] = "mean", ctx: Context) -> Field:
    """Records the size it saw (preview proxies shrink it)."""
    CALLS[f"test.size:{image.size[0]}x{image.size[1]}:{ctx.preview}"] += 1
    v = image.pixels.mean(axis=2) if mode == "mean" else image.pixels.max(axis=2)
    return Field(v.astype(np.float32))


@node("test.slow", outputs={"field": Field})
def slow(a: Field, *, steps: Annotated[int, Range(1, 1000)] = 5, ctx: Context) -> Field:
    for i in range(steps):
        ctx.progress(i / steps, "step")
        ctx.check_cancelled()
    return a


@node("test.wrong", outputs={"field": Field})
def wrong(a: Field) -> Field:
    return a.values  # type: ignore[return-value]  # deliberately breaks the contract


SPECS = [const, add, fail, crash, depth, read, size_of, slow, wrong]


def registry(with_builtin: bool = True) -> Registry:
    """The fake nodes, plus the engine-issue built-ins (source, depth file, remap, export)."""
    reg = Registry(SPECS)
    if with_builtin:
        import nodes.depth
        import nodes.fields
        import nodes.output
        import nodes.sources

        for module in (nodes.sources, nodes.depth, nodes.fields, nodes.output):
            reg.register_module(module)
    return reg
