"""The ``gateway-studio`` command: the desktop app by default, headless verbs beside it.

    gateway-studio [PATCH]                      open the app (optionally with a patch)
    gateway-studio render PATCH [options]       render a patch headless
    gateway-studio nodes [--json]               list node types
    gateway-studio models list|pull NAME        model weights (see engine.models)

Bad input (patch, flags, settings, missing --input files, an export onto a file the patch
reads, an export outside the patch's folder without ``--allow-write-outside``) exits 2
with a one-paragraph message on stderr (``--debug`` adds the traceback); a render whose
nodes failed exits 1, and so does an unexpected internal error (one line, the traceback
with ``--debug``). A render that writes no file says so on stderr.

Writes need the user's consent (``engine/consent.py``): a patch writes inside its own
folder; ``--output``, ``--set NODE.path=…`` and ``--out-dir`` name other targets; and
``--allow-write-outside`` allows whatever the patch names. Each render ends by pruning
the disk cache to its limit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway_studio import __version__
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
    default_registry,
    load_patch,
    provenance,
)
from gateway_studio.engine.consent import outside_writes
from gateway_studio.engine.evaluator import Event
from gateway_studio.engine.files import atomic_write
from gateway_studio.engine.limits import check_settings

VERBS = ("render", "nodes", "models")
#: What a node id looks like (the patch format's rule), to tell NODE=PATH from a path.
_NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(GatewayError):
    """Bad command-line input."""


# ------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway-studio",
        description="Node-based depth compositing. Without a verb, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"gateway-studio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="verb")

    r = sub.add_parser("render", help="render a patch headless")
    r.add_argument("patch", help="patch file (.json)")
    r.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NODE=IMAGE",
        help="feed IMAGE to the source node NODE (repeatable)",
    )
    r.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NODE.PARAM=VALUE",
        help="override a param (repeatable)",
    )
    r.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="[NODE=]PATH",
        help="where the export node writes (adds one if the patch has none)",
    )
    r.add_argument("--cache-dir", help="bundle cache folder (env GATEWAY_STUDIO_CACHE)")
    r.add_argument("--no-disk-cache", action="store_true", help="keep the cache in memory only")
    r.add_argument("--report", metavar="FILE|-", help="write a JSON report of every node")
    r.add_argument("--batch", metavar="GLOB", help="render once per image matching GLOB")
    r.add_argument(
        "--batch-input",
        action="append",
        default=[],
        metavar="NODE[=RULE]",
        help="NODE: the source node the --batch images feed (default: the only "
        "source.image); NODE=GLOB: the batch images and the node they feed; "
        "NODE=RULE with {stem}/{name}/{suffix}/{dir}: each image's partner file for NODE, "
        "e.g. depth='shots/{stem}_depth.png' (repeatable)",
    )
    r.add_argument("--out-dir", help="with --batch: folder for the outputs")
    r.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --batch: render on a Dask LocalCluster of N worker processes "
        "(1, the default: in this process; docs/farm.md)",
    )
    r.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="with --batch: render on the existing Dask cluster of this scheduler",
    )
    r.add_argument(
        "--allow-write-outside",
        action="store_true",
        help="let the patch's exports write outside the patch's folder (by default only "
        "--output / --out-dir and the patch's own folder are written)",
    )
    r.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )
    r.add_argument("--models-dir", help="folder of local model weights (env GATEWAY_STUDIO_MODELS)")
    r.add_argument("--device", help="torch device for model nodes (cpu, cuda, mps)")

    n = sub.add_parser("nodes", help="list the node types")
    n.add_argument("--json", action="store_true", help="machine-readable listing")
    n.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )

    m = sub.add_parser("models", help="list or download model weights")
    m.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    m.add_argument("--models-dir", help="folder of local model weights")
    msub = m.add_subparsers(dest="models_verb")
    ml = msub.add_parser("list", help="known models, size, licence, present locally")
    ml.add_argument("--json", action="store_true")
    mp = msub.add_parser("pull", help="download a model's weights (needs a network)")
    mp.add_argument("name")
    return parser


# ------------------------------------------------------------------------------- verbs
def _split(text: str, sep: str, what: str) -> tuple[str, str]:
    left, found, right = text.partition(sep)
    if not found or not left or not right:
        raise UsageError(f"{text!r} is not of the form {what}")
    return left, right


def _absolute(path: str) -> str:
    """Command-line paths are relative to the working directory, not the patch."""
    return str(Path(path).expanduser().resolve())


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


def _configure_models(args: argparse.Namespace) -> None:
    if getattr(args, "models_dir", None):
        os.environ["GATEWAY_STUDIO_MODELS"] = _absolute(args.models_dir)
    if getattr(args, "device", None):
        os.environ["GATEWAY_STUDIO_DEVICE"] = args.device


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


def cmd_nodes(args: argparse.Namespace) -> int:
    registry = default_registry()
    if args.json:
        print(json.dumps([spec.to_json() for spec in registry], indent=2))
        return EXIT_OK
    for family, specs in registry.families().items():
        print(f"{family}:")
        for spec in specs:
            ins = ", ".join(f"{i.name}: {i.type_name}" for i in spec.inputs) or "—"
            outs = ", ".join(f"{o.name}: {o.type_name}" for o in spec.outputs)
            print(f"  {spec.type_id:<22} v{spec.version}  ({ins}) → {outs}")
            if spec.help:
                print(f"  {'':<22}      {spec.help}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    _configure_models(args)
    from gateway_studio.cli_models import cli as models_cli  # the printing of `models`

    return models_cli(args)


def _no_display() -> bool:
    """On Linux without X11/Wayland, Qt aborts with a plugin message that blames the
    installation; say what is really missing instead."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def run_gui(argv: Sequence[str]) -> int:
    if _no_display() and not any(a in ("-h", "--help") for a in argv):
        print(
            "gateway-studio: no display to open the app on (DISPLAY and WAYLAND_DISPLAY are "
            "unset). Render headless with 'gateway-studio render PATCH', or run the app "
            "offscreen with QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from gateway_studio.ui.app import main as gui_main

    return int(gui_main(list(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    from gateway_studio.malloc import keep_freed_buffers

    keep_freed_buffers()  # ~25-30 % faster full-frame nodes; see gateway_studio/malloc.py
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # a bad GATEWAY_STUDIO_* value: one line naming it, for the app and every verb
        check_settings()
    except GatewayError as exc:
        print(f"gateway-studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    verb = next((a for a in argv if not a.startswith("-")), None)
    if verb not in VERBS and not any(a in ("-h", "--help", "--version") for a in argv):
        return run_gui(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.verb == "render":
            return cmd_render(args)
        if args.verb == "nodes":
            return cmd_nodes(args)
        if args.verb == "models":
            return cmd_models(args)
        parser.print_help()
        return EXIT_USAGE
    except (GatewayError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        message = str(exc) if isinstance(exc, GatewayError) else f"{exc.strerror}: {exc.filename}"
        kind = "bad patch" if isinstance(exc, PatchError) else "error"
        print(f"gateway-studio: {kind}: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gateway-studio: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: one line, the traceback only with --debug
        if args.debug:
            traceback.print_exc()
        print(
            f"gateway-studio: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
