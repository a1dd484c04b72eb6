"""Command-line start-up imports only what a command needs (not timed: what is imported).

A cached render of a small patch is mostly Python imports; these guard the ones that
made it slow: networkx (the engine's graph is plain dicts), every node module (the
registry imports a type's family when asked), node packs' metadata (read only for a
type that is not built in), and the heavy libraries (torch, cv2, ...).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import RESOURCES

HEAVY = ("networkx", "torch", "transformers", "cv2", "scipy", "skimage", "dask")


def modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint(sorted(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return set(ast.literal_eval(out.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_graph_library_node_module_or_heavy_library() -> None:
    found = modules_after("import gateway_studio.cli")
    assert not [m for m in found if m.split(".")[0] in HEAVY]
    assert not [m for m in found if m.startswith("nodes.")]
    assert "importlib.metadata" not in found


def test_a_cached_render_imports_only_the_node_modules_its_patch_uses(tmp_path: Path) -> None:
    patch = RESOURCES / "patches" / "depth_band.json"
    args = [str(patch), "--cache-dir", str(tmp_path / "c"), "--output", str(tmp_path / "o.png")]
    render = (
        "from gateway_studio.cli import main\n"
        f"assert main(['render', *{args!r}, '--report', {str(tmp_path / 'r.json')!r}]) == 0\n"
    )
    modules_after(render)  # the first render fills the cache
    found = modules_after(render)
    report = json.loads((tmp_path / "r.json").read_text())
    assert {r["status"] for r in report["nodes"].values()} == {"cached"}
    used = {m for m in found if m.startswith("nodes.") and not m.startswith("nodes._")}
    # source.image, depth.from_file, field.remap, output.export
    assert used == {"nodes.sources", "nodes.depth_files", "nodes.fields", "nodes.output"}
    assert not [m for m in found if m.split(".")[0] in HEAVY]
    assert "importlib.metadata" not in found  # every type was a built-in one
