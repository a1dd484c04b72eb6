"""Batch output names never collide."""

from __future__ import annotations

from pathlib import Path

from gateway_studio.engine.batch import output_names


def test_output_names_keep_the_tree_and_split_same_stems(tmp_path: Path) -> None:
    images = [tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", tmp_path / "b" / "x.jpg"]
    names = output_names(images)
    assert names == {
        str(images[0]): "a/x",
        str(images[1]): "b/x_png",
        str(images[2]): "b/x_jpg",
    }
    assert len(set(names.values())) == 3
    assert output_names([tmp_path / "one.png"]) == {str(tmp_path / "one.png"): "one"}
