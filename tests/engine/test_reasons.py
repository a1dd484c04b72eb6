"""'Why did this re-run?': each computed node names what changed since its last run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gateway_studio.cli import main
from gateway_studio.engine.reasons import FIRST_RUN, NOT_CACHED, ReasonBook, explain, ingredients
from tests.conftest import RESOURCES


def _reasons(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str | None]:
    assert main(["render", *args, "--report", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    return {n: r.get("reason") for n, r in report["nodes"].items() if r["status"] == "computed"}


def test_render_report_names_the_reason_per_computed_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = tmp_path / "p.json"
    shutil.copy(RESOURCES / "patches" / "motorcycle_fog.json", patch)
    data = json.loads(patch.read_text())
    for n in data["nodes"]:
        if n["type"] == "output.export":
            n["params"]["path"] = str(tmp_path / "out.png")
    patch.write_text(json.dumps(data))
    common = [str(patch), "--cache-dir", str(tmp_path / "cache")]
    first = _reasons(capsys, *common)
    assert first and set(first.values()) == {FIRST_RUN}
    assert _reasons(capsys, *common) == {}  # all cached: nothing re-ran
    fog = next(n["id"] for n in data["nodes"] if n["type"] == "modulate.atmosphere")
    old = data["nodes"][[n["id"] for n in data["nodes"]].index(fog)]["params"].get("density")
    changed = _reasons(capsys, *common, "--set", f"{fog}.density=1.5")
    assert changed[fog] == f"param {fog}.density {old!r} → 1.5"
    assert changed["export"] == "input source changed"
    assert len(changed) == 2


def test_reasons_for_file_bytes_weights_inputs_and_eviction(tmp_path: Path) -> None:
    base = ingredients(1, {"path": "file:aaa", "gain": 1.0}, {"path": "/x/photo.jpg"}, {"a": "k1"})
    assert explain("n", None, base) == FIRST_RUN
    assert explain("n", base, base) == NOT_CACHED
    new_bytes = ingredients(
        1, {"path": "file:bbb", "gain": 1.0}, {"path": "/x/photo.jpg"}, {"a": "k1"}
    )
    assert explain("n", base, new_bytes) == "new file bytes: photo.jpg"
    other = ingredients(1, {"path": "file:ccc", "gain": 1.0}, {"path": "/x/other.jpg"}, {"a": "k1"})
    assert explain("n", base, other) == "param n.path photo.jpg → other.jpg"
    weights = ingredients(
        2,
        {"path": "file:aaa", "gain": 1.0, "__identity__": "w2"},
        {"path": "/x/photo.jpg"},
        {"a": "k2"},
    )
    said = explain("n", base, weights)
    assert said == "node version 1 → 2; input a changed; model weights changed"
    # the book remembers across instances through its folder (a later CLI run)
    book = ReasonBook(tmp_path / "reasons")
    line = ReasonBook.lineage(tmp_path, "n")
    book.remember(line, base)
    book.flush()  # (the evaluator flushes at the end of each evaluation)
    assert (
        ReasonBook(tmp_path / "reasons").explain(line, "n", new_bytes)
        == "new file bytes: photo.jpg"
    )
    (next((tmp_path / "reasons").iterdir())).write_text("{not json")  # damaged: no history
    assert ReasonBook(tmp_path / "reasons").explain(line, "n", base) == FIRST_RUN


def test_a_file_name_that_is_not_utf8_costs_no_history(tmp_path: Path) -> None:
    """Linux hands Python a name that is not UTF-8 with lone surrogates in it; the book
    still writes it (escaped) and reads it back."""
    import os

    odd = os.fsdecode(b"/photos/caf\xe9.jpg")
    made = ingredients(1, {"path": "missing:" + odd}, {"path": odd}, {})
    line = ReasonBook.lineage(tmp_path, "n")
    book = ReasonBook(tmp_path / "reasons")
    book.remember(line, made)
    book.flush()
    assert ReasonBook(tmp_path / "reasons").last(line) == made
