"""A node is a typed function.

``@node`` reads a plain function's signature into a data-only ``NodeSpec``:

    @node("field.remap", outputs={"field": Field})
    def remap(source: Field, *, gain: Annotated[float, Range(0, 4)] = 1.0) -> Field: ...

* positional parameters are **inputs**, annotated with slot types (``Image``, ``Field``,
  ``Field | Depth``); a default of ``None`` makes an input optional;
* keyword-only parameters are **params** (knobs), with defaults; see ``params.py``;
* a keyword-only parameter annotated ``Context`` receives the evaluation context
  (progress, cancellation, path resolution, preview mode) and is not a knob;
* the function returns the single output slot, or a dict of them by output name.

The spec stays callable, so a node is tested like the function it is. Changing what a
node computes means bumping ``version``: it is part of every cache key.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from .consent import WriteGuard
from .errors import Cancelled, GatewayError
from .params import Choices, Help, Label, ParamKind, ParamSpec, Picks, Range, When, _Kind, _Save
from .paths import refuse_special, resolve
from .slots import Files, Slot, slot_type_name


class Context:
    """What a running node may ask of the evaluator. Nodes must not keep it."""

    def __init__(
        self,
        *,
        node_id: str = "",
        base_dir: Path | None = None,
        preview: bool = False,
        report: Callable[[float, str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        writes: WriteGuard | None = None,
        provenance: Callable[[Path, str], dict[str, Any]] | None = None,
    ) -> None:
        self.node_id = node_id
        self.base_dir = base_dir
        #: True while a knob is dragged: inputs are preview proxies; be quick.
        self.preview = preview
        self._report = report
        self._cancelled = cancelled
        #: Checks write targets against the graph's consent (None: a caller in code, such
        #: as a test or a script, that writes where it says).
        self._writes = writes
        self._provenance = provenance
        #: What the user must know about this run (a fallback taken, a one-time cost):
        #: the evaluator shows it in the node's status and the report, beside slot notes.
        self.notes: list[str] = []

    def provenance(self, target: Path, mode: str) -> dict[str, Any] | None:
        """The envelope (``provenance.py``) a node that writes ``target`` embeds: the
        patch that made it, its sources' content keys, its models. None when the node
        runs outside a patch (a direct call) or ``mode`` is "none"."""
        if self._provenance is None or mode == "none":
            return None
        return self._provenance(target, mode)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress within this node (0..1), e.g. "loading model", "inference"."""
        if self._report is not None:
            self._report(min(max(float(fraction), 0.0), 1.0), message)

    def note(self, text: str) -> None:
        """Say something the user must see in the node's status (never a silent fallback)."""
        if text and text not in self.notes:
            self.notes.append(text)

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the evaluation was cancelled (call between long steps)."""
        if self._cancelled is not None and self._cancelled():
            raise Cancelled("evaluation cancelled")

    def resolve_path(self, path: str) -> Path:
        """A path to read: relative paths resolve against the patch file's folder (``~``
        expanded, ``..`` normalised, symlinks kept). A device, FIFO or socket is refused
        (``PathRefused``): opening one may block forever or never end."""
        p = resolve(path, self.base_dir)
        refuse_special(p)
        return p

    def resolve_save_path(self, path: str, param: str = "path") -> Path:
        """A path to write (a ``SavePath`` param), resolved like ``resolve_path`` and
        checked against the write rule (``consent.py``): ``WriteRefused`` outside the
        patch's folder without the user's consent, or onto a file the render reads."""
        p = resolve(path, self.base_dir)
        if self._writes is not None:
            self._writes.check(p, f"{self.node_id or 'node'}.{param}")
        return p


@dataclass(frozen=True)
class InputSpec:
    name: str
    types: tuple[type[Slot], ...]
    optional: bool = False

    def accepts(self, slot_type: type[Slot]) -> bool:
        return any(t.accepts_type(slot_type) for t in self.types)

    def coerce(self, value: Slot) -> Slot:
        if type(value) in self.types:  # the common case, without ABC isinstance checks
            return value
        for t in self.types:
            if isinstance(value, t):
                return value
        for t in self.types:
            if t.accepts_type(type(value)):
                return t.coerce(value)
        return value

    @property
    def type_name(self) -> str:
        return slot_type_name(self.types)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: type[Slot]

    @property
    def type_name(self) -> str:
        return self.type.type_name


@dataclass(frozen=True, eq=False)
class NodeSpec:
    type_id: str
    version: int
    family: str
    label: str
    help: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    params: tuple[ParamSpec, ...]
    func: Callable[..., Any] = field(repr=False)
    #: Preview proxies: may run on downscaled inputs while a knob is dragged.
    proxy: bool = True
    takes_context: str | None = None
    #: Extra cache-key material: what the output depends on besides params and inputs
    #: (e.g. the weights a model name resolves to). Called with (params, Context).
    identity: Callable[[Mapping[str, Any], Context], str] | None = None
    #: Words an artist may search for it by ("bokeh", "dof", "lens blur"), beyond its
    #: label and id; the palette matches them fuzzily and shows them in its tooltip.
    aliases: tuple[str, ...] = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def input(self, name: str) -> InputSpec | None:
        return self.inputs_by_name.get(name)

    @cached_property
    def inputs_by_name(self) -> dict[str, InputSpec]:
        return {i.name: i for i in self.inputs}

    @cached_property
    def _input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @cached_property
    def required_inputs(self) -> frozenset[str]:
        """Names of the inputs that must be connected."""
        return frozenset(i.name for i in self.inputs if not i.optional)

    def output(self, name: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.name == name), None)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def read_path_param(self) -> str | None:
        """The first file param the node *reads* (a source's photo), if any."""
        return next((p.name for p in self.params if p.kind == "path" and not p.save), None)

    @cached_property
    def save_path_param(self) -> str | None:
        """The first file param the node *writes* (an export's target), if any."""
        return next((p.name for p in self.params if p.kind == "path" and p.save), None)

    @cached_property
    def outputs_files(self) -> bool:
        """Whether an output is ``Files`` (a writer's, or a reroute's passing them on): a
        cache hit of it counts only while the files are still the bytes written."""
        return any(issubclass(o.type, Files) for o in self.outputs)

    @cached_property
    def writes_files(self) -> bool:
        """Sinks that write files: run on render/export, never while previewing."""
        return self.save_path_param is not None

    def default_params(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def compute(
        self, inputs: Mapping[str, Slot | None], params: Mapping[str, Any], ctx: Context
    ) -> dict[str, Slot]:
        """Run the function and check it returned what the spec promises."""
        args = list(map(inputs.get, self._input_names))
        if self.takes_context:
            result = self.func(*args, **params, **{self.takes_context: ctx})
        else:
            result = self.func(*args, **params)
        outputs = self.outputs
        if len(outputs) == 1 and type(result) is outputs[0].type:  # the common case
            return {outputs[0].name: result}
        if not isinstance(result, dict) and (
            isinstance(result, Slot) or not isinstance(result, Mapping)
        ):
            if len(self.outputs) != 1:
                raise GatewayError(
                    f"{self.type_id} returned one value but declares {len(self.outputs)} outputs"
                )
            result = {self.outputs[0].name: result}
        out: dict[str, Slot] = {}
        for spec in self.outputs:
            value = result.get(spec.name)
            if type(value) is not spec.type and not isinstance(value, spec.type):
                raise GatewayError(
                    f"{self.type_id} returned {type(value).__name__} for output "
                    f"'{spec.name}', which must be a {spec.type_name}"
                )
            out[spec.name] = value
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.type_id,
            "version": self.version,
            "family": self.family,
            "label": self.label,
            "help": self.help,
            "inputs": [
                {"name": i.name, "type": i.type_name, "optional": i.optional} for i in self.inputs
            ],
            "outputs": [{"name": o.name, "type": o.type_name} for o in self.outputs],
            "params": [p.to_json() for p in self.params],
            "aliases": list(self.aliases),
        }


def _slot_types(annotation: Any, where: str) -> tuple[tuple[type[Slot], ...], bool]:
    """(slot types, optional) of an input annotation such as ``Field | Depth | None``."""
    origin = typing.get_origin(annotation)
    members = (
        typing.get_args(annotation) if origin in (typing.Union, types.UnionType) else (annotation,)
    )
    optional = type(None) in members
    slot_types = tuple(m for m in members if m is not type(None))
    for t in slot_types:
        if not (isinstance(t, type) and issubclass(t, Slot)):
            raise TypeError(f"{where}: input annotation {annotation!r} is not a slot type")
    if not slot_types:
        raise TypeError(f"{where}: input has no slot type")
    return slot_types, optional


#: A param's kind from its plain Python type (``Literal[...]`` is a choice).
_KINDS: dict[Any, ParamKind] = {bool: "bool", int: "int", float: "float", str: "str"}


def _marker_fields(marker: Any) -> dict[str, Any]:
    """What one ``Annotated`` marker says about a param, as ``ParamSpec`` fields."""
    if isinstance(marker, _Kind):
        return {"kind": marker.kind}
    if isinstance(marker, Range):
        return {"min": marker.min, "max": marker.max, "step": marker.step}
    if isinstance(marker, Help):
        return {"help": marker.text}
    if isinstance(marker, Label):
        return {"label": marker.text}
    if isinstance(marker, _Save):
        return {"save": True}
    if isinstance(marker, Choices):
        return {"kind": "choice", "choices": marker.values, "strict": False}
    if isinstance(marker, When):
        return {"when": marker}
    if isinstance(marker, Picks):
        return {"picks": marker.input, "spread": marker.spread}
    return {}


def _param_spec(name: str, annotation: Any, default: Any, where: str) -> ParamSpec:
    if default is inspect.Parameter.empty:
        raise TypeError(f"{where}: param '{name}' needs a default")
    markers: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *markers = typing.get_args(annotation)
    spec: dict[str, Any] = {}
    if typing.get_origin(annotation) is Literal:
        spec.update(kind="choice", choices=tuple(str(a) for a in typing.get_args(annotation)))
    elif annotation in _KINDS:
        spec["kind"] = _KINDS[annotation]
    else:
        raise TypeError(f"{where}: param '{name}' has unsupported type {annotation!r}")
    for m in markers:
        spec.update(_marker_fields(m))
    if spec["kind"] == "int":
        for bound in ("min", "max"):
            if spec.get(bound) is not None:
                spec[bound] = int(spec[bound])
    param = ParamSpec(name, default=default, **spec)
    param.validate(default)  # a bad default is a bug in the node: fail at import
    return param


def _check_conditions(params: list[ParamSpec], where: str) -> None:
    """A ``When`` names another param of the node and values that param can take."""
    by_name = {p.name: p for p in params}
    for p in params:
        if p.when is None:
            continue
        other = by_name.get(p.when.param)
        if other is None or other is p:
            raise TypeError(
                f"{where}: param '{p.name}' applies when '{p.when.param}', no such param"
            )
        for value in p.when.values:
            try:
                other.validate(value)
            except GatewayError as exc:
                raise TypeError(f"{where}: param '{p.name}': When value {value!r}: {exc}") from None


def node(
    type_id: str,
    *,
    outputs: Mapping[str, type[Slot]],
    version: int = 1,
    family: str | None = None,
    label: str | None = None,
    proxy: bool = True,
    identity: Callable[[Mapping[str, Any], Context], str] | None = None,
    aliases: tuple[str, ...] | list[str] = (),
) -> Callable[[Callable[..., Any]], NodeSpec]:
    """Turn a typed function into a ``NodeSpec`` (see the module docstring)."""

    def wrap(func: Callable[..., Any]) -> NodeSpec:
        where = f"node {type_id}"
        for name in outputs:  # (an output's cache key and file name end with its name)
            if not (name.isascii() and name.isidentifier()):
                raise TypeError(f"{where}: output name {name!r} is not an ASCII identifier")
        hints = typing.get_type_hints(func, include_extras=True)
        inputs: list[InputSpec] = []
        params: list[ParamSpec] = []
        takes_context: str | None = None
        for p in inspect.signature(func).parameters.values():
            annotation = hints.get(p.name, Any)
            if annotation is Context:
                takes_context = p.name
            elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                slot_types, optional = _slot_types(annotation, where)
                optional = optional or p.default is None
                inputs.append(InputSpec(p.name, slot_types, optional))
            elif p.kind == p.KEYWORD_ONLY:
                params.append(_param_spec(p.name, annotation, p.default, where))
            else:
                raise TypeError(f"{where}: *args/**kwargs are not supported")
        _check_conditions(params, where)
        named = {i.name for i in inputs}
        for p_spec in params:
            if p_spec.picks is not None and p_spec.picks not in named:
                raise TypeError(
                    f"{where}: param '{p_spec.name}' picks from no input {p_spec.picks!r}"
                )
            if p_spec.spread is not None and p_spec.spread not in {q.name for q in params}:
                raise TypeError(
                    f"{where}: param '{p_spec.name}' spreads by no param {p_spec.spread!r}"
                )
        doc = inspect.getdoc(func) or ""
        module_family = func.__module__.rsplit(".", 1)[-1]
        return NodeSpec(
            type_id=type_id,
            version=version,
            family=family or module_family,
            label=label or type_id.split(".", 1)[-1].replace("_", " ").title(),
            help=doc.split("\n\n", 1)[0].replace("\n", " "),
            inputs=tuple(inputs),
            outputs=tuple(OutputSpec(n, t) for n, t in outputs.items()),
            params=tuple(params),
            func=func,
            proxy=proxy,
            takes_context=takes_context,
            identity=identity,
            aliases=tuple(a.strip().lower() for a in aliases if a.strip()),
        )

    return wrap
