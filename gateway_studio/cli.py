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

This module parses the command line and runs the verbs; ``render`` lives in
``cli_render.py`` (its ``--batch`` flags in ``cli_batch.py``), the printing of
``models`` in ``cli_models.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from gateway_studio import __version__
from gateway_studio.engine import GatewayError, PatchError, default_registry
from gateway_studio.engine.limits import check_settings

VERBS = ("render", "nodes", "models")
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
def _absolute(path: str) -> str:
    """Command-line paths are relative to the working directory, not the patch."""
    return str(Path(path).expanduser().resolve())


def _configure_models(args: argparse.Namespace) -> None:
    if getattr(args, "models_dir", None):
        os.environ["GATEWAY_STUDIO_MODELS"] = _absolute(args.models_dir)
    if getattr(args, "device", None):
        os.environ["GATEWAY_STUDIO_DEVICE"] = args.device


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
            from gateway_studio.cli_render import cmd_render  # the render verb's own module

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
