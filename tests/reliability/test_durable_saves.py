"""Saves that survive a crash: the file and its folder are fsynced (patch saves and
autosaves), a re-save keeps the file's mode, names up to the file system's limit work."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from gateway_studio.engine import Context, Field, GraphError, PatchGraph, default_registry
from gateway_studio.engine.files import atomic_write
from gateway_studio.engine.patch import save_patch


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each os.fsync call synced: "file" or "folder"."""
    seen: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        seen.append("folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "?")
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return seen


def graph() -> PatchGraph:
    g = PatchGraph(default_registry())
    g.add_node("source.sample", node_id="photo")
    return g


def test_saving_a_patch_fsyncs_the_file_and_its_folder(tmp_path: Path, fsyncs: list[str]) -> None:
    g = graph()
    save_patch(g, tmp_path / "p.json")
    assert fsyncs == ["file", "folder"]
    assert g.source_file == tmp_path / "p.json"  # a render must not write over it now


def test_autosave_fsyncs_the_file_and_its_folder(tmp_path: Path, fsyncs: list[str]) -> None:
    from gateway_studio.ui.session import Session

    Session(tmp_path).autosave({"format": "gateway-studio.patch"}, None)
    assert fsyncs == ["file", "folder"]
    assert next((tmp_path / "recovery").glob("autosave-*.json")).stat().st_size > 0


def test_a_resave_keeps_the_files_mode(tmp_path: Path) -> None:
    private = tmp_path / "private.json"
    private.write_text("{}")
    private.chmod(0o600)
    save_patch(graph(), private)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    shared = tmp_path / "shared.json"
    save_patch(graph(), shared)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("name", ["x" * 251 + ".png", "é" * 125 + "x.png", "y" * 255])
def test_names_up_to_255_bytes_can_be_written(tmp_path: Path, name: str) -> None:
    assert len(os.fsencode(name)) == 255
    target = tmp_path / name
    atomic_write(target, b"data", durable=True)
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temp file left beside it


def test_an_export_named_up_to_the_limit(tmp_path: Path) -> None:
    from nodes.output import export

    name = "z" * 251 + ".png"
    files = export(
        Field(np.full((4, 4), 0.5, np.float32)), path=name, ctx=Context(base_dir=tmp_path)
    )
    assert Path(files.paths[0]).name == name and (tmp_path / name).stat().st_size > 0


def test_an_invalid_path_in_an_edit_is_refused_with_its_place() -> None:
    g = PatchGraph(default_registry())
    g.add_node("output.export", node_id="export")
    with pytest.raises(GraphError, match=r"export\.path: the path contains a NUL byte"):
        g.set_param("export", "path", "a\x00.png")
