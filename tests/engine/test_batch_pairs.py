"""Paired batch inputs: each photo renders with its own depth map (checked by content);
a missing partner is an error naming the image; bad rules are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway_studio.cli import main
from gateway_studio.engine.batch_pairs import PairingError, pair_inputs, partner_path
from tests.farm.shots import FOG, files, photos


def test_each_photo_renders_with_its_own_depth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shots = photos(tmp_path / "shots", 5, depth=True)
    code = main(
        [
            "render",
            str(FOG),
            "--batch-input",
            "photo=shots/*.png",
            "--batch-input",
            "depth=shots/{stem}_depth.png",
            "--out-dir",
            "paired",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "rendered 5 of 5 images" in err  # the depth maps were partners, not images
    paired = files(tmp_path / "paired")
    assert sorted(paired) == [f"shot{i:02d}.png" for i in range(5)]
    for i, shot in enumerate(shots):
        for j in (i, (i + 1) % 5):  # its own depth, and a neighbour's
            out = tmp_path / f"own{j}" / shot.name
            assert (
                main(
                    [
                        "render",
                        str(FOG),
                        "--input",
                        f"photo={shot}",
                        "--input",
                        f"depth=shots/shot{j:02d}_depth.png",
                        "--output",
                        str(out),
                    ]
                )
                == 0
            )
            assert (paired[shot.name] == out.read_bytes()) == (i == j)
    capsys.readouterr()


def test_a_missing_partner_names_the_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    photos(tmp_path / "shots", 3, depth=True)
    (tmp_path / "shots" / "shot01_depth.png").unlink()
    code = main(
        [
            "render",
            str(FOG),
            "--batch",
            "shots/*.png",
            "--batch-input",
            "photo",
            "--batch-input",
            "depth=shots/{stem}_depth.png",
            "--out-dir",
            "out",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "shot01.png" in err and "shot01_depth.png" in err and "missing" in err
    assert not (tmp_path / "out").exists()  # nothing rendered


def test_two_answers_for_the_batch_images_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    photos(tmp_path / "shots", 1)
    code = main(
        [
            "render",
            str(FOG),
            "--batch",
            "shots/*.png",
            "--batch-input",
            "photo=shots/*.png",
            "--out-dir",
            "out",
        ]
    )
    assert code == 2 and "name the batch images once" in capsys.readouterr().err
    code = main(
        [
            "render",
            str(FOG),
            "--batch",
            "shots/*.png",
            "--batch-input",
            "photo",
            "--batch-input",
            "photo=x/{stem}.png",
            "--out-dir",
            "out",
        ]
    )
    assert code == 2 and "'photo' is given twice" in capsys.readouterr().err


def test_naming_rules(tmp_path: Path) -> None:
    image = tmp_path / "a" / "x.jpg"
    assert partner_path("{dir}/{stem}_d{suffix}", image) == tmp_path / "a" / "x_d.jpg"
    assert partner_path("{dir}/{name}.depth", image) == tmp_path / "a" / "x.jpg.depth"
    with pytest.raises(PairingError, match=r"unknown field \{stem\.upper\}"):
        partner_path("{stem.upper}.png", image)
    with pytest.raises(PairingError, match="the same file for every image"):
        partner_path("depth.png", image)
    assert pair_inputs([image], {}) == ([str(image)], {str(image): {}})


def test_workers_and_a_scheduler_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    photos(tmp_path / "shots", 1)
    args = ["render", str(FOG), "--batch", "shots/*.png", "--batch-input", "photo"]
    code = main([*args, "--out-dir", "out", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert code == 2 and "--workers 2 goes without --scheduler" in capsys.readouterr().err
    code = main([*args, "--out-dir", "out", "--workers", "0"])
    assert code == 2 and "need at least one worker" in capsys.readouterr().err
    code = main(["render", str(FOG), "--workers", "2", "--output", "o.png"])
    assert code == 2 and "go with --batch" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "o.png").exists()
