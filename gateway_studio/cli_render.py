"""``gateway-studio render PATCH``: a patch rendered headless, once (``--batch``:
``cli_batch.py``).

The flags that change the patch (--input, --set, --output, --allow-write-outside) are
applied and checked before anything runs: an export onto a file the patch reads, or
outside the patch's folder without consent, is refused (``engine/consent.py``); a
picture Gateway Studio exported renders the patch it carries, from the files it was
made from. The render pulls (only what the exports need is read or run), prints each
node's progress on a terminal, names failed nodes, writes the ``--report`` and says
when nothing was written. The command's exit codes and error handling are ``cli.py``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway_studio.cli import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    _absolute,
    _configure_models,
)
from gateway_studio.engine import (
    Evaluation,
    Evaluator,
    Files,
    GatewayError,
    NodeFailed,
    NodeFinished,
    NodeProgress,
    PatchError,
    PatchGraph,
    SlotCache,
    batch,
    default_cache_dir,
    load_patch,
    provenance,
)
from gateway_studio.engine.consent import outside_writes
from gateway_studio.engine.evaluator import Event
from gateway_studio.engine.files import atomic_write

#: What a node id looks like (the patch format's rule), to tell NODE=PATH from a path.
_NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def _split(text: str, sep: str, what: str) -> tuple[str, str]:
    left, found, right = text.partition(sep)
    if not found or not left or not right:
        raise UsageError(f"{text!r} is not of the form {what}")
    return left, right


def _source_param(graph: PatchGraph, node_id: str) -> str:
    spec = graph.spec(node_id)
    if spec.read_path_param is None:
        raise UsageError(f"node '{node_id}' ({spec.type_id}) reads no file, so it takes no --input")
    return spec.read_path_param


def _set_param(graph: PatchGraph, node_id: str, name: str, text: str) -> None:
    if node_id not in graph:
        raise UsageError(f"--set {node_id}.{name}: the patch has no node '{node_id}'")
    pspec = graph.spec(node_id).param(name)
    if pspec is None:
        known = ", ".join(p.name for p in graph.spec(node_id).params)
        raise UsageError(f"--set {node_id}.{name}: no such param (params: {known})")
    try:
        value: Any = pspec.parse_text(text)
    except GatewayError as exc:
        raise UsageError(f"--set {node_id}.{name}: {exc}") from None
    if pspec.kind == "path" and value:
        value = _absolute(value)
        if pspec.save:  # typed on the command line: the user named this file
            graph.write_consent = graph.write_consent.allow_file(value)
    graph.set_param(node_id, name, value)


def _export_nodes(graph: PatchGraph) -> list[str]:
    return [n.id for n in graph.nodes() if n.type_id == "output.export"]


def _save_param(graph: PatchGraph, node_id: str, flag: str) -> str:
    """The param a node writes its file to; refuses nodes that write nothing (a source's
    read path must never be repointed at an output file)."""
    spec = graph.spec(node_id)
    if spec.save_path_param is None:
        raise UsageError(f"{flag}: node '{node_id}' ({spec.type_id}) writes no file")
    return spec.save_path_param


def _apply_outputs(graph: PatchGraph, outputs: Sequence[str]) -> None:
    for item in outputs:
        node_id, eq, path = item.partition("=")
        # NODE=PATH only when the left side can be a node id: "/tmp/a=b.png" is a path.
        if eq and _NODE_ID.match(node_id) and not Path(item).exists():
            node_id, path = _split(item, "=", "NODE=PATH")
            if node_id not in graph:
                raise UsageError(f"--output {item}: the patch has no node '{node_id}'")
        else:
            exports = _export_nodes(graph)
            if len(exports) > 1:
                raise UsageError(
                    f"--output {item}: the patch has several export nodes "
                    f"({', '.join(exports)}); say which with --output NODE=PATH"
                )
            node_id = exports[0] if exports else _add_export(graph)
            path = item
        graph.set_param(node_id, _save_param(graph, node_id, f"--output {item}"), _absolute(path))
        graph.write_consent = graph.write_consent.allow_file(_absolute(path))


def _refuse_overwriting_inputs(graph: PatchGraph) -> None:
    """An export onto a file the patch reads would destroy the photo: refuse before
    anything is written (the batch engine's guard, one for the CLI and the app)."""
    try:
        batch.refuse_overwriting_inputs(graph)
    except batch.BatchError as exc:
        raise UsageError(f"{exc} (--output / --out-dir)") from None


def _add_export(graph: PatchGraph) -> str:
    """Export the final node (the batch engine's rule) of a patch that has no export."""
    final = batch.final_node(graph)
    if final is None:
        raise UsageError(
            "the patch has no output.export node and no node with an output; add an "
            "export node or name the node with --output NODE=PATH"
        )
    return batch.add_export(graph, final, "")


def _refuse_writing_outside(graph: PatchGraph) -> None:
    """List every export target outside the patch's folder that the user did not name,
    and how to allow them, before anything is rendered."""
    outside = outside_writes(graph)
    if not outside:
        return
    folder = graph.base_dir or Path.cwd()
    listing = "\n".join(
        f"  {ref} → {path}" + (f" (through a symlink: {real})" if real != path else "")
        for ref, path in outside
        for real in [Path(os.path.realpath(path))]
    )
    raise UsageError(
        f"refused: the patch writes outside its folder ({folder}):\n{listing}\n"
        "Nothing was written. Run again with --allow-write-outside to allow these writes, "
        "or name the output yourself with --output PATH (--out-dir DIR with --batch)."
    )


def _make_evaluator(args: argparse.Namespace) -> Evaluator:
    if args.no_disk_cache:
        return Evaluator(SlotCache(None))
    root = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    return Evaluator(SlotCache(root))


def _stderr_listener(debug: bool) -> Any:
    live = sys.stderr.isatty()  # a terminal: each node's own progress on one line

    def listen(event: Event) -> None:
        if live and isinstance(event, NodeProgress) and event.message:
            text = f"{event.node_id}: {event.message}"[:100]
            print(f"\r{text}\x1b[K", end="", file=sys.stderr, flush=True)
        elif live and isinstance(event, (NodeFinished, NodeFailed)):
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
        if isinstance(event, NodeFailed) and event.status == "failed":
            print(f"gateway-studio: node '{event.node_id}' failed: {event.error}", file=sys.stderr)

    return listen


def _render_once(evaluator: Evaluator, graph: PatchGraph, debug: bool) -> Evaluation:
    evaluation = evaluator.evaluate(graph, strict=True, listener=_stderr_listener(debug), pull=True)
    if debug:
        for result in evaluation.results.values():
            if result.traceback:
                print(result.traceback, file=sys.stderr)
    return evaluation


def _write_report(target: str | None, report: dict[str, Any]) -> None:
    if not target:
        return
    text = json.dumps(report, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:  # temp file + rename, folders made: a finished render never loses its report
        atomic_write(Path(target).expanduser(), text.encode("utf-8"))


def _load(path: str) -> PatchGraph:
    """``load_patch`` (or the patch a picture exported by Gateway Studio carries), with
    the few ways a hostile file can still break Python's own JSON or number handling
    (over-long integers, huge numbers, deep nesting) reported as a bad patch instead of a
    traceback."""
    try:
        if Path(path).is_file() and batch.is_image_file(path):
            return _load_from_image(path)
        return load_patch(path)
    except (ValueError, OverflowError, RecursionError) as exc:
        if isinstance(exc, GatewayError):
            raise
        raise PatchError(f"cannot read the patch ({type(exc).__name__}: {exc})", path) from None


def _load_from_image(path: str) -> PatchGraph:
    """The patch a picture carries (``engine/provenance.py``), validated as a patch file."""
    return provenance.patch_from_image(path)


def _check_image_sources(path: str, graph: PatchGraph, given: frozenset[str]) -> None:
    """A picture's patch renders again only from the files it was made from: a missing
    one is refused, naming each; one with other bytes is rendered, with a note."""
    envelope = provenance.read_envelope(path)
    if envelope is None:
        return
    missing, changed = provenance.missing_sources(envelope, graph, given)
    for line in changed:
        print(f"gateway-studio: note: {line}", file=sys.stderr)
    if missing:
        raise UsageError(
            f"{path}: its patch cannot be rendered again, a file it was made from is "
            "missing:\n  " + "\n  ".join(missing) + "\nPut the files back (paths are "
            "relative to the picture), or give them with --input NODE=FILE."
        )


def _refuse_images(path: str) -> None:
    """``render photo.jpg``: say in one line that a patch is wanted, not a decode error
    (a picture Gateway Studio exported carries its patch and renders)."""
    if Path(path).is_file() and batch.is_image_file(path):
        if provenance.read_envelope(path) is not None:
            return
        name = Path(path).name
        if Path(path).suffix.lower() == ".exr":  # a render pass: its depth is what is wanted
            raise UsageError(
                f"{path} is an OpenEXR file without a Gateway Studio patch: read its depth "
                f"with a depth.from_file node (render PATCH --input NODE={name})"
            )
        raise UsageError(
            f"{path} is an image, not a patch: open it in the app (gateway-studio {name}) "
            f"or render a patch on it (render PATCH --input NODE={name})"
        )


def cmd_render(args: argparse.Namespace) -> int:
    _configure_models(args)
    _refuse_images(args.patch)
    graph = _load(args.patch)
    if not len(graph):
        raise UsageError(f"{args.patch}: the patch has no nodes, so there is nothing to render")
    for item in args.input:
        node_id, image = _split(item, "=", "NODE=IMAGE")
        if node_id not in graph:
            raise UsageError(f"--input {item}: the patch has no node '{node_id}'")
        param = _source_param(graph, node_id)
        path = Path(_absolute(image))
        if not path.is_file():  # bad input: say so before rendering anything
            missing = "is a folder, not a file" if path.is_dir() else "no such file"
            raise UsageError(f"--input {item}: {path}: {missing}")
        graph.set_param(node_id, param, str(path))
    if Path(args.patch).is_file() and batch.is_image_file(args.patch):
        given = frozenset(_split(item, "=", "NODE=IMAGE")[0] for item in args.input)
        _check_image_sources(args.patch, graph, given)
    for item in args.set:
        ref, text = _split(item, "=", "NODE.PARAM=VALUE")
        node_id, name = _split(ref, ".", "NODE.PARAM=VALUE")
        _set_param(graph, node_id, name, text)
    _apply_outputs(graph, args.output)
    if args.allow_write_outside:
        graph.write_consent = graph.write_consent.allow_anywhere()
    evaluator = _make_evaluator(args)
    try:
        return _render(args, graph, evaluator)
    finally:  # the cache limit holds across runs, not only within one
        evaluator.cache.prune()


def _render(args: argparse.Namespace, graph: PatchGraph, evaluator: Evaluator) -> int:
    if args.batch or args.batch_input:
        from gateway_studio.cli_batch import render_batch

        return render_batch(args, graph, evaluator)
    if args.out_dir:
        raise UsageError("--out-dir goes with --batch GLOB")
    if args.workers != 1 or args.scheduler:
        raise UsageError("--workers and --scheduler go with --batch GLOB")
    _refuse_overwriting_inputs(graph)
    _refuse_writing_outside(graph)
    evaluation = _render_once(evaluator, graph, args.debug)
    _write_report(args.report, evaluation.report())
    if not evaluation.ok:
        return EXIT_FAILED
    written = [
        file
        for result in evaluation.results.values()
        for slot in result.outputs.values()
        if isinstance(slot, Files)
        for file in slot.paths
    ]
    for file in written:
        print(f"wrote {file}", file=sys.stderr)
    if not written:  # a render that writes nothing is almost always a mistake: say so
        print(
            "gateway-studio: note: nothing was written (the patch has no output.export "
            "node); add one, or use --output PATH",
            file=sys.stderr,
        )
    return EXIT_OK
