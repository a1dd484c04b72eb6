"""The README's fog patch, built, tweaked, saved and reopened in Python.

    python examples/patch_api.py [OUT_DIR]

Writes OUT_DIR/fog.json and OUT_DIR/fog.png (default: a new temporary folder) and prints
what each step did. The sample's depth comes from its depth map (``depth.from_file``);
with Depth-Anything weights installed, ``p.add("depth.estimate", image=photo.image)``
gives the photo's estimated depth instead.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from gateway_studio import Patch
from gateway_studio.engine import NodeFinished

IMAGES = Path(__file__).resolve().parent.parent / "resources" / "images"


def recomputed(p: Patch) -> list[str]:
    """The nodes the last render computed (not read from the cache)."""
    return [e.node_id for e in p.events if isinstance(e, NodeFinished) and not e.cached]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("scene.png", "scene_depth.png"):
        shutil.copy(IMAGES / name, out / name)

    p = Patch(base_dir=out)  # relative paths below are relative to OUT_DIR
    photo = p.add("source.image", id="photo", path="scene.png")
    depth = p.add("depth.from_file", id="depth", path="scene_depth.png", convention="inverse")
    fog = p.add("modulate.atmosphere", id="fog", image=photo.image, depth=depth.depth, density=2.0)
    p.add("output.export", id="export", source=fog.image, path="fog.png")

    img = p.render(fog.image)
    print(f"rendered {img!r}: mean {img.numpy().mean():.3f}; computed {recomputed(p)}")
    near = p.render(depth.depth).numpy()
    print(f"depth: nearest {float(near.max()):.2f}, farthest {float(near.min()):.2f}")

    fog.density = 3.0  # only fog (and what it feeds) recomputes
    img = p.render(fog.image)
    print(f"density 3.0: mean {img.numpy().mean():.3f}; computed {recomputed(p)}")

    saved = p.save(out / "fog.json")
    written = Patch.open(saved).render()  # the whole patch, as `gateway-studio render`
    print(f"saved {saved}; reopened and rendered: {[r.paths for r in written]}")
    again = Patch.open(out / "fog.png")  # the picture carries its patch
    print(f"fog.png carries a patch of {len(again.nodes)} nodes, density {again['fog'].density}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="gws-")))
