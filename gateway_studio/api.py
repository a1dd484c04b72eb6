"""``gateway_studio.Patch``: patches as Python, over the same engine as the app and CLI.

    from gateway_studio import Patch
    p = Patch()
    photo = p.add("source.image", path="me.jpg")
    depth = p.add("depth.estimate", image=photo.image)
    fog = p.add("modulate.atmosphere", image=photo.image, depth=depth.depth, density=2.0)
    img = p.render(fog.image)        # a Rendered slot: .numpy(), .pil(), shown in Jupyter
    fog.density = 3.0                # only fog recomputes on the next render
    p.save("fog.json")
    Patch.open("fog.json").render()

A node handle's attributes are its outputs (``photo.image``: pass it as another node's
input), its params (read and set, validated by the node's specs with the patch loader's
own messages) and its inputs (set one to an output to connect it). Rendering goes
through ``Evaluator`` and the same disk cache as the CLI and the app (``cache_dir``), so
a knob change recomputes only the nodes downstream of it. No Qt is imported.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import (
    Depth,
    Evaluation,
    Evaluator,
    Event,
    Faces,
    Field,
    Files,
    GatewayError,
    GraphError,
    Image,
    Link,
    Normals,
    PatchError,
    PatchGraph,
    PointCloud,
    Registry,
    Segments,
    Slot,
    SlotCache,
    default_cache_dir,
    default_registry,
    load_patch,
    save_patch,
)
from gateway_studio.engine.patch import _checked_params, patch_from_dict, patch_to_dict
from gateway_studio.engine.provenance import patch_from_image, rebased_params

__all__ = ["NodeError", "Output", "Patch", "PatchNode", "Rendered"]


class NodeError(GatewayError):
    """A node failed while rendering; the message names it and says why."""


@dataclass(frozen=True)
class Output:
    """One output slot of a node (``photo.image``): what an input connects to."""

    node: str
    slot: str

    def __str__(self) -> str:
        return f"{self.node}.{self.slot}"


class PatchNode:
    """A handle on one node of a ``Patch``: ``node.<output>`` is an ``Output``,
    ``node.<param>`` its value (settable), ``node.<input>`` the output feeding it
    (settable to connect, ``None`` to disconnect); where an input and an output share a
    name, reading gives the output and ``node.inputs`` the input."""

    __slots__ = ("_id", "_patch")

    def __init__(self, patch: Patch, node_id: str) -> None:
        object.__setattr__(self, "_patch", patch)
        object.__setattr__(self, "_id", node_id)

    @property
    def id(self) -> str:
        node_id: str = self._id
        return node_id

    @property
    def type(self) -> str:
        return str(self._patch.graph.node(self._id).type_id)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._patch.graph.node(self._id).params)

    @property
    def inputs(self) -> dict[str, Output | None]:
        """Each input and the output feeding it (``fog.image`` is fog's *output*; its
        input of the same name is ``fog.inputs["image"]``; ``fog.image = photo.image``
        connects the input, since outputs cannot be set)."""
        graph = self._patch.graph
        incoming = graph.incoming(self._id)
        return {
            i.name: Output(*incoming[i.name]) if i.name in incoming else None
            for i in graph.spec(self._id).inputs
        }

    def __getattr__(self, name: str) -> Any:
        graph = self._patch.graph
        spec = graph.spec(self._id)
        if spec.output(name) is not None:
            return Output(self._id, name)
        if spec.param(name) is not None:
            return graph.node(self._id).params[name]
        if spec.input(name) is not None:
            src = graph.incoming(self._id).get(name)
            return Output(*src) if src else None
        raise AttributeError(
            f"{self._id} ({spec.type_id}) has no output, param or input '{name}' "
            f"(outputs: {', '.join(o.name for o in spec.outputs) or 'none'}; "
            f"params: {', '.join(p.name for p in spec.params) or 'none'}; "
            f"inputs: {', '.join(i.name for i in spec.inputs) or 'none'})"
        )

    def __setattr__(self, name: str, value: Any) -> None:
        self._patch.set(self._id, **{name: value})

    def __dir__(self) -> list[str]:
        spec = self._patch.graph.spec(self._id)
        names = [o.name for o in spec.outputs] + [p.name for p in spec.params]
        return sorted({*names, *(i.name for i in spec.inputs), "id", "type", "params", "inputs"})

    def __repr__(self) -> str:
        return f"<{self.type} node '{self._id}'>"


class Patch:
    """A patch built (or opened) in Python, rendered through the engine's evaluator."""

    def __init__(
        self,
        *,
        cache_dir: str | Path | None = None,
        disk_cache: bool = True,
        base_dir: str | Path | None = None,
        registry: Registry | None = None,
        graph: PatchGraph | None = None,
    ) -> None:
        """``cache_dir``: the bundle cache (default: the CLI's and app's, honouring
        ``GATEWAY_STUDIO_CACHE``); ``disk_cache=False`` keeps it in memory. Relative
        paths in params resolve against ``base_dir`` (default: the current folder)."""
        if graph is None:
            base = Path(base_dir) if base_dir is not None else Path.cwd()
            graph = PatchGraph(registry or default_registry(), base_dir=base.resolve())
        self.graph = graph
        root = None
        if disk_cache:
            root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.evaluator = Evaluator(SlotCache(root))
        #: The events of the last render (``NodeStarted``, ``NodeFinished``, …).
        self.events: list[Event] = []
        #: The last render's evaluation (its ``report()`` is the CLI's ``--report``).
        self.evaluation: Evaluation | None = None

    # -- building -------------------------------------------------------------------------
    def add(self, type_id: str, *, id: str | None = None, **values: Any) -> PatchNode:
        """Add a ``type_id`` node; keyword arguments are its params (validated) and its
        inputs (an ``Output`` such as ``photo.image``)."""
        graph = self.graph
        if type_id not in graph.registry:
            raise PatchError(f"unknown node type '{type_id}'", "type")
        if id is not None and id in graph:
            raise PatchError(f"duplicate node id '{id}'", "id")
        spec = graph.registry.get(type_id)
        inputs = {k: v for k, v in values.items() if spec.input(k) is not None}
        for name, value in values.items():
            if isinstance(value, (Output, PatchNode)) and name not in inputs:
                known = ", ".join(i.name for i in spec.inputs) or "none"
                raise PatchError(f"{type_id} has no input '{name}' (inputs: {known})", name)
        params = {k: v for k, v in values.items() if k not in inputs}
        node_id = id or graph.new_id(type_id)
        checked = _checked_params(spec, params, node_id)
        try:
            graph.add_node(type_id, checked, node_id=node_id)
        except GraphError as exc:
            raise PatchError(str(exc), "id") from None
        try:
            self.set(node_id, **inputs)
        except GatewayError:
            graph.remove_node(node_id)
            raise
        return PatchNode(self, node_id)

    def set(self, node_id: str, **values: Any) -> None:
        """Set params and connect inputs of a node (what ``node.name = value`` does)."""
        graph = self.graph
        spec = graph.spec(node_id)
        for name, value in values.items():
            if spec.input(name) is not None:
                self._connect(node_id, name, value)
            elif name in {o.name for o in spec.outputs}:
                raise PatchError(f"'{name}' is an output: it cannot be set", f"{node_id}.{name}")
            else:
                checked = _checked_params(spec, {name: value}, node_id)
                graph.set_param(node_id, name, checked[name])

    def _connect(self, node_id: str, name: str, value: Any) -> None:
        if value is None:
            self.graph.disconnect(node_id, name)
            return
        if isinstance(value, PatchNode):
            outputs = self.graph.spec(value.id).outputs
            if len(outputs) != 1:
                raise PatchError(
                    f"{value.id} has several outputs; pass one ({value.id}.{outputs[0].name})",
                    f"{node_id}.{name}",
                )
            value = Output(value.id, outputs[0].name)
        if not isinstance(value, Output):
            raise PatchError(
                f"an input takes another node's output (such as photo.image), got {value!r}",
                f"{node_id}.{name}",
            )
        if value.node not in self.graph:
            raise PatchError(f"no node with id '{value.node}' in this patch", f"{node_id}.{name}")
        try:
            self.graph.connect(Link(value.node, value.slot, node_id, name))
        except GraphError as exc:
            raise PatchError(str(exc), f"{node_id}.{name}") from None

    def remove(self, node: PatchNode | str) -> None:
        self.graph.remove_node(node if isinstance(node, str) else node.id)

    def __getitem__(self, node_id: str) -> PatchNode:
        self.graph.node(node_id)  # GraphError for an unknown id
        return PatchNode(self, node_id)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.graph

    @property
    def nodes(self) -> list[PatchNode]:
        return [PatchNode(self, inst.id) for inst in self.graph.nodes()]

    def __repr__(self) -> str:
        return f"<Patch of {len(self.graph)} nodes: {', '.join(n.id for n in self.nodes)}>"

    # -- rendering ------------------------------------------------------------------------
    def render(
        self,
        *outputs: Output | PatchNode,
        listener: Callable[[Event], None] | None = None,
    ) -> Any:
        """Render ``outputs`` (and only what they need): one ``Rendered`` per output,
        alone or as a tuple. With none, render the whole patch as the CLI does (exports
        write their files) and return the ``Rendered`` of each node that feeds no other.
        A failing node raises ``NodeError`` naming it."""
        refs = [self._output(o) for o in outputs]
        targets = sorted({r.node for r in refs}) if refs else None
        self.events = []

        def listen(event: Event) -> None:
            self.events.append(event)
            if listener is not None:
                listener(event)

        # the whole patch is pulled as the CLI pulls it (exports cached and intact: nothing
        # upstream is read); named outputs are needed, so their nodes are read or run
        evaluation = self.evaluator.evaluate(
            self.graph, targets=targets, listener=listen, strict=True, pull=not refs
        )
        self.evaluation = evaluation
        failed = [
            f"{nid}: {r.error}" for nid, r in evaluation.results.items() if r.status == "failed"
        ]
        if failed or evaluation.cancelled:
            raise NodeError("the render failed: " + "; ".join(failed or ["cancelled"]))
        if not refs:
            refs = [
                Output(nid, self.graph.spec(nid).outputs[0].name)
                for nid in self.graph.sinks()
                if self.graph.spec(nid).outputs
            ]
            return [self._rendered(evaluation, r) for r in refs]
        made = tuple(self._rendered(evaluation, r) for r in refs)
        return made[0] if len(made) == 1 else made

    def _output(self, value: Output | PatchNode) -> Output:
        if isinstance(value, PatchNode):
            return Output(value.id, self.graph.spec(value.id).outputs[0].name)
        if not isinstance(value, Output):
            raise TypeError(f"render takes node outputs (such as fog.image), got {value!r}")
        self.graph.node(value.node)
        if self.graph.spec(value.node).output(value.slot) is None:
            raise GraphError(f"{value.node} has no output '{value.slot}'")
        return value

    def _rendered(self, evaluation: Evaluation, ref: Output) -> Rendered:
        slot = evaluation.output(ref.node, ref.slot)
        photo = None
        if isinstance(slot, Faces):  # drawn on the picture they were found in
            for src, src_slot in self.graph.incoming(ref.node).values():
                upstream = evaluation.results.get(src)
                if upstream is not None and isinstance(upstream.outputs.get(src_slot), Image):
                    image = evaluation.output(src, src_slot)
                    assert isinstance(image, Image)
                    photo = image
        return Rendered(slot, str(ref), photo)

    # -- files ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The patch JSON (paths as given, relative to ``base_dir``)."""
        return patch_to_dict(self.graph)

    def save(self, path: str | Path) -> Path:
        """Write the patch file (atomically); relative paths are rewritten relative to
        the file's folder, so the file renders the same wherever it is opened from."""
        path = Path(path).resolve()
        data = rebased_params(self.to_dict(), self.graph.registry, self.graph.base_dir, path.parent)
        graph = patch_from_dict(data, self.graph.registry, base_dir=path.parent)
        save_patch(graph, path)
        return path

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        cache_dir: str | Path | None = None,
        disk_cache: bool = True,
        registry: Registry | None = None,
    ) -> Patch:
        """A patch file, or a picture Gateway Studio exported (it carries its patch): read
        and validated as the app and CLI read them (``PatchError`` naming the place)."""
        from gateway_studio.engine.batch import is_image_file

        p = Path(path)
        if p.is_file() and is_image_file(p):
            graph = patch_from_image(p, registry)
        else:
            graph = load_patch(p, registry)
        return cls(cache_dir=cache_dir, disk_cache=disk_cache, graph=graph)


class Rendered:
    """A rendered slot (``.slot``), with numpy / PIL views and an inline picture for
    Jupyter: Depth in false colour (turbo, lighter = nearer), Faces drawn on their photo."""

    def __init__(self, slot: Slot, name: str = "", photo: Image | None = None) -> None:
        self.slot = slot
        self.name = name
        self.photo = photo

    @property
    def type(self) -> str:
        return self.slot.type_name

    def numpy(self) -> NDArray[Any]:
        """The slot's values: Image float32 (H, W, 3) in [0, 1] (sRGB-encoded), Depth and
        Field float32 (H, W) (Depth: 1 = nearest, NaN where there is no depth), Normals
        (H, W, 3) unit vectors, Segments int32 labels, PointCloud (N, 3) points; Faces
        have no array (use ``.slot.faces``)."""
        slot = self.slot
        if isinstance(slot, Image):
            return np.asarray(slot.srgb_pixels() if slot.colorspace == "linear" else slot.pixels)
        if isinstance(slot, Depth):
            return slot.values_or_nan()
        if isinstance(slot, Field):
            return slot.values
        if isinstance(slot, Normals):
            return slot.vectors
        if isinstance(slot, Segments):
            return slot.labels
        if isinstance(slot, PointCloud):
            return slot.points
        raise TypeError(f"a {slot.type_name} has no array: use .slot")

    def rgb(self) -> NDArray[np.uint8]:
        """What the app's viewer shows, as uint8 RGB (H, W, 3)."""
        from gateway_studio.ui.display import to_rgb  # pure numpy: no Qt

        source = None
        if self.photo is not None:
            source = to_rgb(self.photo)
        rgb = to_rgb(self.slot, "turbo" if isinstance(self.slot, Depth) else "gray", source=source)
        if rgb is None:
            raise TypeError(f"a {self.slot.type_name} has no picture")
        return rgb

    def pil(self) -> Any:
        """The picture as a ``PIL.Image`` (see ``rgb``)."""
        from PIL import Image as PILImage

        return PILImage.fromarray(self.rgb(), "RGB")

    def _repr_png_(self) -> bytes | None:
        if isinstance(self.slot, Files):
            return None
        buf = io.BytesIO()
        self.pil().save(buf, format="PNG")
        return buf.getvalue()

    @property
    def paths(self) -> tuple[str, ...]:
        """The files written (an export's ``Files``)."""
        return self.slot.paths if isinstance(self.slot, Files) else ()

    def __repr__(self) -> str:
        size = self.slot.size
        shown = f" {size[1]}×{size[0]}" if size else ""
        return f"<Rendered {self.slot.type_name}{shown} {self.name}>"
