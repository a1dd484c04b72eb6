"""Figures for docs/security.md: patch loading, hostile reads, the image budget, cancel.

Each line gives its same-run reference:

* loading an N-node chain whose links are listed in reverse (the worst order), with the
  loader's single cycle check, beside connecting the same links one by one with a cycle
  search per link (what the loader did before);
* refusing ``/dev/zero``, a FIFO and a 400 MP PNG header, beside rendering the sample
  scene (the same command on a real photo), wall time and peak RSS of the process;
* how long ``Evaluator.evaluate`` takes to return after a cancel while it hashes a 4 GB
  file, beside the time hashing would have taken.

    .venv/bin/python benchmarks/safety.py [--nodes 8000]
    .venv/bin/python benchmarks/safety.py --smoke   # 300 nodes, a 256 MB file: seconds (CI)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from gateway_studio.engine import (
    CancelToken,
    Evaluator,
    Link,
    PatchGraph,
    default_registry,
    patch_from_dict,
)

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "gateway-studio")


def chain(n: int) -> dict[str, object]:
    nodes = [{"id": "n0", "type": "source.sample", "params": {}}]
    nodes += [{"id": f"n{i}", "type": "field.remap", "params": {}} for i in range(1, n)]
    links = [{"from": f"n{i - 1}.field", "to": f"n{i}.source"} for i in range(n - 1, 1, -1)]
    return {"format": "gateway-studio.patch", "version": 1, "nodes": nodes, "links": links}


def loading(n: int) -> None:
    data = chain(n)
    t0 = time.perf_counter()
    patch_from_dict(data)
    loader = time.perf_counter() - t0
    graph = PatchGraph(default_registry())
    for node in data["nodes"]:  # type: ignore[attr-defined]
        graph.add_node(node["type"], node_id=node["id"])
    t0 = time.perf_counter()
    for link in data["links"]:  # type: ignore[attr-defined]
        src, src_slot = link["from"].split(".")
        dst, dst_slot = link["to"].split(".")
        graph.connect(Link(src, src_slot, dst, dst_slot))  # a path search per link
    per_link = time.perf_counter() - t0
    print(f"load {n}-node reversed chain: {loader:.2f} s")
    print(f"  reference, a cycle search per link (the old loader): {per_link:.2f} s")


_SPAWN = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)\n"
)


def render(folder: Path, source: str, env: dict[str, str]) -> tuple[int, float, int]:
    patch = folder / f"p{abs(hash(source))}.json"
    patch.write_text(
        json.dumps(
            {
                "format": "gateway-studio.patch",
                "version": 1,
                "nodes": [
                    {"id": "photo", "type": "source.image", "params": {"path": source}},
                    {"id": "export", "type": "output.export", "params": {"path": "o.png"}},
                ],
                "links": [{"from": "photo.image", "to": "export.source"}],
            }
        )
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _SPAWN, EXE, "render", str(patch)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    seconds = time.perf_counter() - t0
    code, rss = (int(v) for v in done.stdout.split())
    return code, seconds, rss


def hostile_reads(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.reliability.conftest import png_bytes

    (folder / "bomb.png").write_bytes(png_bytes(20_000, 20_000, rows=False))
    os.mkfifo(folder / "fifo.png")
    env = {"GATEWAY_STUDIO_CACHE": str(folder / "cache")}
    reference = render(folder, str(ROOT / "resources" / "images" / "scene.png"), env)
    print(
        f"reference, rendering the 960x640 sample: exit {reference[0]}, "
        f"{reference[1]:.2f} s, peak {reference[2] >> 20} MB"
    )
    for source in ("/dev/zero", "fifo.png", "bomb.png"):
        code, seconds, rss = render(folder, source, env)
        print(f"{source}: exit {code}, {seconds:.2f} s, peak {rss >> 20} MB")


def cancel_latency(folder: Path, megabytes: int = 4096) -> None:
    huge = folder / "huge.png"
    with huge.open("wb") as f:
        f.truncate(megabytes << 20)
    t0 = time.perf_counter()
    with huge.open("rb") as f:  # reference: hashing the first sixteenth, scaled
        h = hashlib.blake2b(digest_size=20)
        for _ in range(megabytes // 16):
            h.update(f.read(1 << 20))
    full = (time.perf_counter() - t0) * 16
    graph = PatchGraph(default_registry())
    graph.add_node("source.image", {"path": str(huge)}, node_id="photo")
    token = CancelToken()
    thread = threading.Thread(target=lambda: Evaluator().evaluate(graph, cancel=token))
    thread.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    token.cancel()
    thread.join()
    print(
        f"cancel while hashing a {megabytes} MB file: returned in "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    print(f"  reference, hashing all of it: {full:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=8000)
    parser.add_argument("--smoke", action="store_true", help="small sizes, seconds (CI)")
    args = parser.parse_args()
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    loading(300 if args.smoke else args.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        hostile_reads(Path(tmp))
        cancel_latency(Path(tmp), 256 if args.smoke else 4096)


if __name__ == "__main__":
    main()
