"""The headless command: render, reports, caching across runs, batch, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from gateway_studio.cli import main
from tests.conftest import RESOURCES

EXAMPLE = RESOURCES / "patches" / "depth_band.json"


def render(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["render", *args, "--report", "-"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {k: v["status"] for k, v in report["nodes"].items()}


def test_render_twice_then_change_a_downstream_param(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")  # every result on disk
    out = tmp_path / "out.png"
    common = [str(EXAMPLE), "--output", str(out), "--cache-dir", str(tmp_path / "cache")]
    code, report, err = render(capsys, *common)
    assert code == 0, err
    assert out.exists() and f"wrote {out}" in err
    img = PILImage.open(out)
    assert img.size == (960, 640)
    # the photo feeds nothing the export needs: a pulled render never reads it
    assert report["nodes"]["photo"] == {"status": "cached", "source": "not needed"} | {
        k: report["nodes"]["photo"][k] for k in ("seconds", "error")
    }
    assert {n: s for n, s in statuses(report).items() if n != "photo"} == {
        "depth": "computed",
        "band": "computed",
        "export": "computed",
    }
    code, report, _ = render(capsys, *common)
    assert code == 0 and set(statuses(report).values()) == {"cached"}
    code, report, _ = render(capsys, *common, "--set", "band.gamma=2.5")
    assert statuses(report) == {
        "photo": "cached",
        "depth": "cached",
        "band": "computed",
        "export": "computed",
    }
    out.unlink()  # a deleted export is written again, everything else stays cached
    code, report, _ = render(capsys, *common, "--set", "band.gamma=2.5")
    assert statuses(report)["export"] == "computed" and out.exists()
    assert statuses(report)["band"] == "cached"


def test_report_file_goes_into_a_new_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "reports" / "run.json"
    out = tmp_path / "o.png"
    args = [str(EXAMPLE), "--no-disk-cache", "--output", str(out), "--report", str(report)]
    code = main(["render", *args])
    assert code == 0, capsys.readouterr().err
    assert json.loads(report.read_text())["ok"] is True
    assert [p.name for p in report.parent.iterdir()] == ["run.json"]  # no temp file left


def test_empty_patch_is_refused_and_a_render_writing_nothing_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = {"format": "gateway-studio.patch", "version": 1, "nodes": [], "links": []}
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    assert main(["render", str(tmp_path / "empty.json"), "--no-disk-cache"]) == 2
    assert "the patch has no nodes" in capsys.readouterr().err
    sample = dict(empty, nodes=[{"id": "s", "type": "source.sample"}])
    (tmp_path / "sample.json").write_text(json.dumps(sample))
    code, report, err = render(capsys, str(tmp_path / "sample.json"), "--no-disk-cache")
    assert code == 0 and report["ok"]
    assert "nothing was written" in err and "wrote" not in err


def test_cheap_nodes_stay_in_memory_and_are_recomputed_by_the_next_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot the cache's policy does not keep on disk stays in memory only; a later run
    that needs it recomputes it and says why. (The policy compares measured times, so
    here it is pinned: keep only small slots; ``test_pull`` tests the policy itself.)"""
    from gateway_studio.engine import cache

    monkeypatch.setattr(
        cache, "worth_persisting", lambda **kw: kw["expensive"] or kw["nbytes"] <= (1 << 20)
    )
    common = [str(EXAMPLE), "--output", str(tmp_path / "o.png"), "--cache-dir", str(tmp_path / "c")]
    render(capsys, *common)
    code, report, _ = render(capsys, *common, "--set", "band.gamma=2")
    assert code == 0
    depth = report["nodes"]["depth"]
    assert depth["status"] == "computed" and "not kept" in depth["reason"]


def test_corrupted_cache_entry_is_recomputed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_STUDIO_CACHE_KEEP", "all")  # every result on disk
    common = [str(EXAMPLE), "--output", str(tmp_path / "o.png"), "--cache-dir", str(tmp_path / "c")]
    render(capsys, *common)
    entries = sorted((tmp_path / "c").rglob("*.slot"), key=lambda p: p.stat().st_size)
    victim = entries[-1]
    victim.write_bytes(victim.read_bytes()[:100])
    # the output is intact: a pulled render reads nothing upstream, the damage is unseen
    code, report, _ = render(capsys, *common)
    assert code == 0 and set(statuses(report).values()) == {"cached"}
    (tmp_path / "o.png").unlink()  # now the export must run, reading the damaged entry
    code, report, _ = render(capsys, *common)
    assert code == 0
    assert "computed" in statuses(report).values()


def test_input_override_and_output_without_export_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = {
        "format": "gateway-studio.patch",
        "version": 1,
        "nodes": [
            {"id": "photo", "type": "source.image", "params": {"path": "nothing.png"}},
            {
                "id": "depth",
                "type": "depth.from_file",
                "params": {"path": str(RESOURCES / "images" / "scene_depth.png")},
            },
            {"id": "band", "type": "field.remap", "params": {"invert": True}},
        ],
        "links": [{"from": "depth.depth", "to": "band.source"}],
        "metadata": {},
    }
    (tmp_path / "p.json").write_text(json.dumps(patch))
    code, report, err = render(
        capsys,
        str(tmp_path / "p.json"),
        "--no-disk-cache",
        "--input",
        f"photo={RESOURCES / 'images' / 'coffee.png'}",
        "--output",
        f"band={tmp_path / 'x.png'}",
    )
    assert code == 2 and "node 'band' (field.remap) writes no file" in err
    code, report, err = render(
        capsys,
        str(tmp_path / "p.json"),
        "--no-disk-cache",
        "--input",
        f"photo={RESOURCES / 'images' / 'coffee.png'}",
    )
    assert code == 0, err
    patch["nodes"].pop(0)
    (tmp_path / "p.json").write_text(json.dumps(patch))
    code, report, err = render(
        capsys, str(tmp_path / "p.json"), "--no-disk-cache", "--output", str(tmp_path / "auto.png")
    )
    assert code == 0, err
    assert PILImage.open(tmp_path / "auto.png").size == (960, 640)
    assert "export" in report["nodes"]


def test_batch_renders_every_image_reusing_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    for i in range(3):
        PILImage.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(shots / f"s{i}.png")
    patch = json.loads(EXAMPLE.read_text())
    patch["nodes"][0]["params"]["path"] = str(RESOURCES / "images" / "scene.png")
    patch["nodes"][1]["params"]["path"] = str(RESOURCES / "images" / "scene_depth.png")
    (tmp_path / "p.json").write_text(json.dumps(patch))
    code = main(
        [
            "render",
            str(tmp_path / "p.json"),
            "--batch",
            str(shots / "*.png"),
            "--out-dir",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "c"),
            "--report",
            str(tmp_path / "r.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s0.png", "s1.png", "s2.png"]
    report = json.loads((tmp_path / "r.json").read_text())
    per_image = [statuses(r) for r in report["images"].values()]
    assert per_image[0]["depth"] == "computed"
    assert per_image[1]["depth"] == "cached" and per_image[2]["band"] == "cached"
    assert "rendered 3 of 3" in err


def test_outputs_never_overwrite_the_inputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.png"
    shutil.copy(RESOURCES / "images" / "scene.png", photo)
    before = photo.read_bytes()
    patch = json.loads((RESOURCES / "patches" / "fog.json").read_text())
    patch["nodes"][1]["params"]["path"] = str(RESOURCES / "images" / "scene_depth.png")
    (tmp_path / "p.json").write_text(json.dumps(patch))
    single = ["render", str(tmp_path / "p.json"), "--no-disk-cache"]
    code = main([*single, "--input", f"photo={photo}", "--output", str(photo)])
    err = capsys.readouterr().err
    assert code == 2 and f"export.path would overwrite {photo}, which photo.path reads" in err
    # a batch into the images' own folder, same suffix: refused before any render
    batch = ["--batch", str(tmp_path / "*.png"), "--out-dir", str(tmp_path)]
    code = main([*single, *batch])
    err = capsys.readouterr().err
    assert code == 2 and "would overwrite" in err and "rendered" not in err
    assert photo.read_bytes() == before


def test_batch_outputs_never_overwrite_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same stem in two folders (recursive glob) and twice in one folder (x.png, x.jpg):
    # every image gets its own output file.
    shots = tmp_path / "shots"
    for sub in ("a", "b"):
        (shots / sub).mkdir(parents=True)
        PILImage.fromarray(np.full((8, 12, 3), 90, np.uint8)).save(shots / sub / "x.png")
    PILImage.fromarray(np.full((8, 12, 3), 90, np.uint8)).save(shots / "a" / "x.jpg")
    patch = json.loads(EXAMPLE.read_text())
    for node, name in ((0, "scene.png"), (1, "scene_depth.png")):
        patch["nodes"][node]["params"]["path"] = str(RESOURCES / "images" / name)
    (tmp_path / "p.json").write_text(json.dumps(patch))
    out = tmp_path / "out"
    code = main(
        [
            "render",
            str(tmp_path / "p.json"),
            "--batch",
            str(shots / "**" / "x.*"),
            "--out-dir",
            str(out),
            "--no-disk-cache",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["a/x_jpg.png", "a/x_png.png", "b/x.png"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "band.gamma=99"], "above the maximum"),
        (["--set", "band.nope=1"], "no such param"),
        (["--set", "nobody.gamma=1"], "no node 'nobody'"),
        (["--set", "gamma"], "NODE.PARAM=VALUE"),
        (["--input", "band=x.png"], "reads no file"),
        (["--input", "zz=x.png"], "no node 'zz'"),
        (["--input", "photo=/nonexistent/x.png"], "--input photo=/nonexistent/x.png: "),
        (["--input", "photo=/"], "is a folder, not a file"),
        (["--out-dir", "x"], "goes with --batch"),
        (["--batch", "/nonexistent/*.png", "--out-dir", "x"], "no file matches"),
        (["--batch", "*.png"], "needs --out-dir"),
    ],
)
def test_bad_arguments_exit_2_with_one_message(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["render", str(EXAMPLE), "--no-disk-cache", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.startswith("gateway-studio: ")


def test_output_never_repoints_a_source_and_paths_may_hold_equals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "photo" reads a file through a path param too: --output must not make it read the
    # output's (missing) file instead of the photo.
    code = main(["render", str(EXAMPLE), "--no-disk-cache", "--output", "photo=x.png"])
    err = capsys.readouterr().err
    assert code == 2 and "node 'photo' (source.image) writes no file" in err
    # An output path with "=" in a folder name is a path, not NODE=PATH.
    out = tmp_path / "a=b" / "out.png"
    code, report, err = render(capsys, str(EXAMPLE), "--no-disk-cache", "--output", str(out))
    assert code == 0, err
    assert out.exists() and report["ok"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        (
            '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
            '"no.such"}]}',
            "nodes[0].type: unknown node type 'no.such'",
        ),
        (
            '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
            '"field.remap", "params": {"gamma": 99}}]}',
            "nodes[0].params.gamma: 99",
        ),
        (
            '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
            '"field.remap"}], "links": [{"from": "x.nope", "to": "x.source"}]}',
            "no output 'nope'",
        ),
        (
            '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
            '"field.remap"}, {"id": "y", "type": "field.remap"}], "links": [{"from": "x.field", '
            '"to": "y.source"}, {"from": "y.field", "to": "x.source"}]}',
            "cycle",
        ),
    ],
)
def test_malformed_patches_exit_2_naming_the_place(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text(content)
    code = main(["render", str(tmp_path / "bad.json"), "--no-disk-cache"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert "bad.json" in err


@pytest.mark.parametrize(
    "content",
    [
        # numbers Python cannot turn into floats, or will not parse, and deep nesting
        '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
        '"field.remap", "params": {"gamma": 1' + "0" * 400 + "}}]}",
        '{"format": "gateway-studio.patch", "version": 1, "nodes": [{"id": "x", "type": '
        '"field.remap", "position": [1' + "0" * 400 + ", 0]}]}",
        '{"format": "gateway-studio.patch", "version": 1' + "0" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["huge-param", "huge-position", "overlong-int", "deep-nesting"],
)
def test_hostile_patches_exit_2_without_traceback(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text(content)
    code = main(["render", str(tmp_path / "bad.json"), "--no-disk-cache"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.startswith("gateway-studio: bad patch: ") and "bad.json" in err


def test_internal_errors_are_one_line_and_debug_shows_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gateway_studio.cli as cli

    def broken(args: Any) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "cmd_nodes", broken)
    assert main(["nodes"]) == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "Traceback" not in err
    assert main(["--debug", "nodes"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_failing_node_exits_1_and_debug_shows_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = json.loads(EXAMPLE.read_text())
    patch["nodes"][1]["params"]["path"] = str(tmp_path / "missing.png")
    (tmp_path / "p.json").write_text(json.dumps(patch))
    code, report, err = render(capsys, str(tmp_path / "p.json"), "--no-disk-cache", "--debug")
    assert code == 1
    assert report["nodes"]["depth"]["status"] == "failed"
    assert report["nodes"]["band"]["status"] == "skipped"
    assert "missing.png" in err and "Traceback" in err


def test_nodes_listing_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    remap = next(n for n in listing if n["id"] == "field.remap")
    assert set(remap) >= {"id", "version", "family", "inputs", "outputs", "params"}
    gamma = next(p for p in remap["params"] if p["name"] == "gamma")
    assert {"name", "type", "default", "min", "max", "step", "choices", "help"} <= set(gamma)
    assert gamma["type"] == "float"
    assert main(["nodes"]) == 0
    assert "field.remap" in capsys.readouterr().out


@pytest.mark.slow
def test_installed_command_renders_the_readme_example(tmp_path: Path) -> None:
    exe = shutil.which("gateway-studio", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed with the package"
    done = subprocess.run(
        [
            exe,
            "render",
            str(EXAMPLE),
            "--output",
            str(tmp_path / "o.png"),
            "--report",
            "-",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    module = subprocess.run(
        [sys.executable, "-m", "gateway_studio", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 0 and "gateway-studio" in module.stdout


def test_the_app_without_a_display_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "gateway-studio render" in err


def test_render_given_an_image_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = RESOURCES / "images" / "coffee.png"
    assert main(["render", str(photo), "--no-disk-cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "utf-8" not in err
    assert "coffee.png is an image, not a patch" in err
