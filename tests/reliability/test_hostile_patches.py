"""Hostile patches, as a user meets them: downloaded, rendered without reading them.

Reads of devices, FIFOs, sockets and folders end at once with a message; writes outside
the patch's folder need the user's consent; absurd files (huge, deep, 8,000 nodes, NUL
bytes) are patch errors with their location, never hangs or tracebacks."""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path

import pytest

from gateway_studio.cli import main
from gateway_studio.engine import PatchError, load_patch, patch_from_dict

from .conftest import photo_patch, run_cli, write_patch

# -- reads: regular files only ---------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("node", ["source.image", "depth.from_file"])
def test_a_device_as_source_ends_at_once_with_a_message(
    tmp_path: Path, cache_env: dict[str, str], device: str, node: str
) -> None:
    slot = "image" if node == "source.image" else "depth"
    patch = write_patch(
        tmp_path,
        [
            {"id": "src", "type": node, "params": {"path": device}},
            {"id": "export", "type": "output.export", "params": {"path": "out.png"}},
        ],
        [(f"src.{slot}", "export.source")],
    )
    run = run_cli("render", str(patch), env=cache_env, timeout=20)
    assert run.code != 0 and run.seconds < 5, run
    assert f"{device}: is a character device, not a regular file" in run.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_fifo_source_or_patch_never_blocks(tmp_path: Path, cache_env: dict[str, str]) -> None:
    fifo = tmp_path / "photo.png"
    os.mkfifo(fifo)  # nobody ever writes to it: open() without O_NONBLOCK would wait forever
    run = run_cli("render", str(photo_patch(tmp_path, "photo.png")), env=cache_env, timeout=20)
    assert run.code != 0 and run.seconds < 5
    assert "is a FIFO (named pipe), not a regular file" in run.stderr
    patch_fifo = tmp_path / "patch_fifo.json"
    os.mkfifo(patch_fifo)
    run = run_cli("render", str(patch_fifo), env=cache_env, timeout=20)
    assert run.code == 2 and run.seconds < 5
    assert "is a FIFO (named pipe)" in run.stderr


def test_a_socket_a_folder_and_a_device_patch_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock_path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        assert main(["render", str(photo_patch(tmp_path, "s.png")), "--no-disk-cache"]) != 0
    assert "is a socket, not a regular file" in capsys.readouterr().err
    (tmp_path / "folder.png").mkdir()
    assert main(["render", str(photo_patch(tmp_path, "folder.png")), "--no-disk-cache"]) == 1
    assert "is a folder, not a regular file" in capsys.readouterr().err
    assert main(["render", "/dev/zero"]) == 2
    assert "/dev/zero: is a character device" in capsys.readouterr().err


# -- writes: the patch's folder, or where the user said --------------------------------


def test_writes_outside_the_patch_folder_need_the_flag(
    scene: Path, tmp_path: Path, cache_env: dict[str, str]
) -> None:
    home = Path(cache_env["HOME"])
    elsewhere = tmp_path / "elsewhere"
    (scene / "link").symlink_to(home)  # inside by name, outside in fact
    targets = {
        "up": ("../x.png", tmp_path / "x.png"),
        "abs": (str(elsewhere / "x.png"), elsewhere / "x.png"),
        "home": ("~/x.png", home / "x.png"),
        "link": ("link/y.png", home / "y.png"),
        "inside": ("renders/ok.png", scene / "renders" / "ok.png"),
    }
    nodes = [{"id": "photo", "type": "source.image", "params": {"path": "scene.png"}}]
    nodes += [
        {"id": name, "type": "output.export", "params": {"path": path}}
        for name, (path, _) in targets.items()
    ]
    patch = write_patch(scene, nodes, [("photo.image", f"{n}.source") for n in targets])
    run = run_cli("render", str(patch), env=cache_env)
    assert run.code == 2, run.stderr
    for name in ("up", "abs", "home", "link"):
        assert f"{name}.path → " in run.stderr
        assert not targets[name][1].exists()
    assert "inside.path" not in run.stderr and "--allow-write-outside" in run.stderr
    assert "(through a symlink: " in run.stderr
    assert not (scene / "renders").exists()  # nothing at all was written

    run = run_cli("render", str(patch), "--allow-write-outside", env=cache_env)
    assert run.code == 0, run.stderr
    assert all(real.is_file() for _, real in targets.values())


def test_output_set_and_out_dir_name_targets_the_user_agreed_to(
    scene: Path,
    tmp_path: Path,
    cache_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patch = photo_patch(scene, "scene.png", str(tmp_path / "patch_says.png"))
    for name, value in cache_env.items():
        monkeypatch.setenv(name, value)
    assert main(["render", str(patch), "--output", str(tmp_path / "user.png")]) == 0
    assert (tmp_path / "user.png").is_file() and not (tmp_path / "patch_says.png").exists()
    assert main(["render", str(patch), "--set", f"export.path={tmp_path / 'set.png'}"]) == 0
    assert (tmp_path / "set.png").is_file()
    out = tmp_path / "batch_out"
    code = main(["render", str(patch), "--batch", str(scene / "*.png"), "--out-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (out / "scene.png").is_file()


def test_a_render_never_writes_over_what_it_reads(scene: Path, cache_env: dict[str, str]) -> None:
    before = (scene / "scene.png").read_bytes()
    for target in ("scene.png", "./sub/../scene.png", "patch.json"):
        patch = photo_patch(scene, "scene.png", target)
        run = run_cli("render", str(patch), "--allow-write-outside", env=cache_env)
        assert run.code != 0 and "would overwrite" in run.stderr, run.stderr
    assert (scene / "scene.png").read_bytes() == before
    assert json.loads((scene / "patch.json").read_text())["format"] == "gateway-studio.patch"


# -- absurd files ------------------------------------------------------------------------


def test_huge_and_deep_json_are_patch_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    assert main(["render", str(deep)]) == 2
    assert "bad patch" in capsys.readouterr().err
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:  # sparse: 65 MB that cost nothing to make
        f.truncate(65 << 20)
    t0 = time.perf_counter()
    assert main(["render", str(huge)]) == 2
    assert time.perf_counter() - t0 < 2
    assert "larger than 64 MB" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("sce\x00ne.png", "contains a NUL byte at character 3"),
        ("o\ud800.png", "cannot be part of a file name"),
        ("x" * 300 + ".png", "names are limited to 255"),
    ],
)
def test_invalid_paths_are_patch_errors_with_their_location(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path: str, problem: str
) -> None:
    patch = photo_patch(tmp_path, path)
    assert main(["render", str(patch)]) == 2
    err = capsys.readouterr().err
    assert "bad patch" in err and "nodes[0].params.path: the path" in err and problem in err


def chain(n: int, order: str) -> dict[str, object]:
    nodes = [{"id": "n0", "type": "source.sample", "params": {}}]
    nodes += [{"id": f"n{i}", "type": "field.remap", "params": {}} for i in range(1, n)]
    links = [{"from": f"n{i - 1}.field", "to": f"n{i}.source"} for i in range(2, n)]
    if order == "reversed":
        links.reverse()
    elif order == "shuffled":
        random.Random(9).shuffle(links)
    return {"format": "gateway-studio.patch", "version": 1, "nodes": nodes, "links": links}


@pytest.mark.parametrize("order", ["forward", "reversed", "shuffled"])
def test_an_8000_node_chain_loads_in_under_2_s_in_any_link_order(order: str) -> None:
    data = chain(8000, order)
    t0 = time.perf_counter()
    graph = patch_from_dict(data)
    seconds = time.perf_counter() - t0
    assert len(graph) == 8000 and len(graph.links()) == 7998
    assert seconds < 2, f"{order}: {seconds:.2f} s"


def test_a_cycle_in_8000_nodes_is_named_once(tmp_path: Path) -> None:
    data = chain(8000, "reversed")
    data["links"].append({"from": "n7999.field", "to": "n1.source"})  # type: ignore[attr-defined]
    (tmp_path / "cycle.json").write_text(json.dumps(data))
    t0 = time.perf_counter()
    with pytest.raises(PatchError, match=r"links\[7998\]: the links make a cycle: .*n1"):
        load_patch(tmp_path / "cycle.json")
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "1e999"])
@pytest.mark.parametrize("variable", ["GATEWAY_STUDIO_CACHE_MAX_GB", "GATEWAY_STUDIO_MAX_IMAGE_MB"])
def test_invalid_settings_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["nodes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and variable in err and repr(value) in err
