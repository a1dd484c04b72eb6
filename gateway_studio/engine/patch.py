"""Patch files: JSON in, a validated ``PatchGraph`` out — and back, atomically.

Format (version 1)::

    {
      "format": "gateway-studio.patch",
      "version": 1,
      "nodes": [{"id": "photo", "type": "source.image", "params": {"path": "a.png"},
                 "position": [0, 0], "bypass": false, "title": ""}],
      "links": [{"from": "photo.image", "to": "fog.image"}],
      "backdrops": [{"title": "Depth", "rect": [x, y, w, h], "color": "#3a4a5a"}],
      "metadata": {}
    }

Loading validates everything and raises ``PatchError`` whose message starts with the
location of the first problem (``nodes[3].params.strength: 1.7 is above the maximum
1.0``). Nothing in a patch is executed or unpickled: it is plain data checked against the
node specs. Saving writes a temp file beside the target and ``os.replace``s it, so a
crash never leaves half a patch.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .consent import WriteConsent
from .errors import GraphError, PatchError
from .files import atomic_write
from .graph import Backdrop, Link, PatchGraph
from .node import NodeSpec
from .params import ParamError
from .paths import PathRefused, open_regular, path_problem
from .registry import Registry, default_registry

FORMAT = "gateway-studio.patch"
VERSION = 1

#: Largest patch file read (an 8,000-node patch is about 1 MB).
MAX_PATCH_BYTES = 64 << 20

_NODE_KEYS = {"id", "type", "params", "position", "bypass", "title"}
_TOP_KEYS = {"format", "version", "nodes", "links", "backdrops", "metadata"}


def _expect(value: Any, kind: type, where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise PatchError(f"expected {what}, got {json.dumps(value, default=str)[:80]}", where)
    return value


def _finite(value: Any) -> bool:
    """A JSON number that is a finite float (huge integers overflow float: not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _finite_pair(value: Any, where: str) -> tuple[float, float]:
    _expect(value, list, where, "a list [x, y]")
    if len(value) != 2 or not all(_finite(v) for v in value):
        raise PatchError("expected two finite numbers [x, y]", where)
    return float(value[0]), float(value[1])


def _slot_ref(value: Any, where: str) -> tuple[str, str]:
    _expect(value, str, where, 'a string "node.slot"')
    node_id, dot, slot = value.rpartition(".")
    if not dot or not node_id or not slot:
        raise PatchError(f'{value!r} is not of the form "node.slot"', where)
    return node_id, slot


def patch_from_dict(
    data: Any, registry: Registry | None = None, *, base_dir: Path | None = None
) -> PatchGraph:
    registry = registry or default_registry()
    _expect(data, dict, "patch", "a JSON object")
    if data.get("format") != FORMAT:
        raise PatchError(f'expected "{FORMAT}", got {data.get("format")!r}', "format")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PatchError(f"expected an integer, got {version!r}", "version")
    if version > VERSION:
        raise PatchError(
            f"this patch is format version {version}; this Gateway Studio reads up to "
            f"{VERSION} — update Gateway Studio to open it",
            "version",
        )
    if version < 1:
        raise PatchError(f"unknown format version {version}", "version")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PatchError(f"unknown key(s) {', '.join(unknown)}", "patch")

    # read from data: the folder rule applies to what it writes (see consent.py)
    graph = PatchGraph(registry, base_dir=base_dir, write_consent=WriteConsent(restricted=True))
    metadata = data.get("metadata", {})
    graph.metadata = dict(_expect(metadata, dict, "metadata", "an object"))

    for i, raw in enumerate(_expect(data.get("nodes"), list, "nodes", "a list of nodes")):
        _add_node(graph, raw, f"nodes[{i}]")
    _add_links(graph, _expect(data.get("links", []), list, "links", "a list of links"))
    for i, raw in enumerate(_expect(data.get("backdrops", []), list, "backdrops", "a list")):
        where = f"backdrops[{i}]"
        _expect(raw, dict, where, "a backdrop object")
        title = _expect(raw.get("title", ""), str, f"{where}.title", "a string")
        rect = _expect(raw.get("rect"), list, f"{where}.rect", "[x, y, width, height]")
        if len(rect) != 4 or not all(_finite(v) for v in rect):
            raise PatchError("expected four finite numbers", f"{where}.rect")
        color = _expect(raw.get("color", "#3a4a5a"), str, f"{where}.color", "a colour")
        graph.backdrops.append(Backdrop(title, (rect[0], rect[1], rect[2], rect[3]), color))
    return graph


def _checked_params(spec: NodeSpec, params: dict[str, Any], where: str) -> dict[str, Any]:
    """Each param known to the node, valid, and (for paths) a usable path."""
    checked: dict[str, Any] = {}
    for name, value in params.items():
        pspec = spec.param(name)
        if pspec is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise PatchError(
                f"{spec.type_id} has no param '{name}' (params: {known})",
                f"{where}.params.{name}",
            )
        try:
            checked[name] = pspec.validate(value)
        except ParamError as exc:
            raise PatchError(str(exc), f"{where}.params.{name}") from None
        problem = path_problem(checked[name]) if pspec.kind == "path" else None
        if problem:
            raise PatchError(f"the path {problem}", f"{where}.params.{name}")
    return checked


def _add_node(graph: PatchGraph, raw: Any, where: str) -> None:
    _expect(raw, dict, where, "a node object")
    extra = sorted(set(raw) - _NODE_KEYS)
    if extra:
        raise PatchError(f"unknown key(s) {', '.join(extra)}", where)
    node_id = _expect(raw.get("id"), str, f"{where}.id", "a string id")
    type_id = _expect(raw.get("type"), str, f"{where}.type", "a string node type")
    if type_id not in graph.registry:
        raise PatchError(f"unknown node type '{type_id}'", f"{where}.type")
    if node_id in graph:
        raise PatchError(f"duplicate node id '{node_id}'", f"{where}.id")
    params = _expect(raw.get("params", {}), dict, f"{where}.params", "an object")
    checked = _checked_params(graph.registry.get(type_id), params, where)
    position = None
    if raw.get("position") is not None:
        position = _finite_pair(raw["position"], f"{where}.position")
    bypass = _expect(raw.get("bypass", False), bool, f"{where}.bypass", "true or false")
    title = _expect(raw.get("title", ""), str, f"{where}.title", "a string")
    try:
        graph.add_node(
            type_id, checked, node_id=node_id, position=position, bypass=bypass, title=title
        )
    except GraphError as exc:
        raise PatchError(str(exc), f"{where}.id") from None


def _add_links(graph: PatchGraph, links: list[Any]) -> None:
    """Link by link: form, nodes, slots and types; then one cycle check for all of them
    (a path search per link made an 8,000-node patch take a minute to load)."""
    closing: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(links):
        where = f"links[{i}]"
        _expect(raw, dict, where, 'an object {"from": ..., "to": ...}')
        extra = sorted(set(raw) - {"from", "to"})
        if extra:
            raise PatchError(f"unknown key(s) {', '.join(extra)}", where)
        src, src_slot = _slot_ref(raw.get("from"), f"{where}.from")
        dst, dst_slot = _slot_ref(raw.get("to"), f"{where}.to")
        for node_id, part in ((src, "from"), (dst, "to")):
            if node_id not in graph:
                raise PatchError(f"no node with id '{node_id}'", f"{where}.{part}")
        if dst_slot in graph.incoming(dst):
            raise PatchError(f"input {dst}.{dst_slot} already has a link", f"{where}.to")
        try:
            graph.connect(Link(src, src_slot, dst, dst_slot), check_cycle=False)
        except GraphError as exc:
            raise PatchError(str(exc), where) from None
        closing[(src, dst)] = i
    cycle = graph.find_cycle()
    if cycle is not None:
        # name the link, in file order, that closed the cycle
        i = max(closing[(u, v)] for u, v in itertools.pairwise(cycle))
        raise PatchError(f"the links make a cycle: {' → '.join(cycle)}", f"links[{i}]")


def patch_to_dict(graph: PatchGraph) -> dict[str, Any]:
    nodes = []
    for inst in graph.nodes():
        entry: dict[str, Any] = {"id": inst.id, "type": inst.type_id, "params": dict(inst.params)}
        if inst.position is not None:
            entry["position"] = [inst.position[0], inst.position[1]]
        if inst.bypass:
            entry["bypass"] = True
        if inst.title:
            entry["title"] = inst.title
        nodes.append(entry)
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "nodes": nodes,
        "links": [
            {"from": f"{lk.src}.{lk.src_slot}", "to": f"{lk.dst}.{lk.dst_slot}"}
            for lk in graph.links()
        ],
    }
    if graph.backdrops:
        data["backdrops"] = [
            {"title": b.title, "rect": list(b.rect), "color": b.color} for b in graph.backdrops
        ]
    data["metadata"] = dict(graph.metadata)
    return data


def patch_to_json(graph: PatchGraph) -> str:
    return json.dumps(patch_to_dict(graph), indent=2, ensure_ascii=False) + "\n"


def patch_from_json(
    text: str,
    registry: Registry | None = None,
    *,
    base_dir: Path | None = None,
    source: str = "patch",
) -> PatchGraph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise PatchError(f"not valid JSON: {exc.msg}", where) from None
    except (ValueError, RecursionError) as exc:  # int digit limit, absurd nesting
        raise PatchError(f"not a readable patch: {exc}", source) from None
    try:
        return patch_from_dict(data, registry, base_dir=base_dir)
    except PatchError as exc:
        raise PatchError(str(exc), source) from None


def _read_patch_text(path: Path) -> str:
    """The file's text: a regular file (never a FIFO or device) of bounded size."""
    try:
        with open_regular(path) as f:
            data = f.read(MAX_PATCH_BYTES + 1)
    except FileNotFoundError:
        raise PatchError("no such file", str(path)) from None
    except PathRefused as exc:
        raise PatchError(str(exc).split(": ", 1)[-1], str(path)) from None
    except (OSError, ValueError) as exc:
        raise PatchError(f"cannot read the file: {exc}", str(path)) from None
    if len(data) > MAX_PATCH_BYTES:
        raise PatchError(
            f"the file is larger than {MAX_PATCH_BYTES >> 20} MB; no patch is that big",
            str(path),
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(f"cannot read the file: {exc}", str(path)) from None


def load_patch(path: str | Path, registry: Registry | None = None) -> PatchGraph:
    path = Path(path)
    text = _read_patch_text(path)
    graph = patch_from_json(text, registry, base_dir=path.resolve().parent, source=str(path))
    graph.source_file = path.resolve()
    return graph


def save_patch(graph: PatchGraph, path: str | Path) -> None:
    """Write atomically: a crash mid-save leaves the previous file intact."""
    path = Path(path)
    text = patch_to_json(graph)
    atomic_write(path, text, durable=True)
    graph.source_file = path.resolve()  # from now on, the file a render must not write over


def set_params_from_mapping(graph: PatchGraph, values: Mapping[str, Any]) -> None:
    """Apply {"node.param": value} overrides (validated), raising PatchError."""
    for ref, value in values.items():
        node_id, param = _slot_ref(ref, ref)
        try:
            graph.set_param(node_id, param, value)
        except GraphError as exc:
            raise PatchError(str(exc), ref) from None
