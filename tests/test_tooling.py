"""House rules a tool enforces: lint, layer boundaries, strict typing, lazy heavy imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which(cmd[0], path=str(BIN)) or cmd[0]
    return subprocess.run([exe, *cmd[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    done = run("ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format_is_clean() -> None:
    done = run("ruff", "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_boundaries_hold() -> None:
    """engine and nodes never import Qt; nodes never import the UI (import-linter)."""
    done = run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_engine_is_mypy_strict_clean() -> None:
    done = run("mypy", "gateway_studio/engine")
    assert done.returncode == 0, done.stdout + done.stderr


def test_importing_the_engine_and_nodes_loads_no_heavy_library() -> None:
    code = (
        "import sys, gateway_studio.engine as e, gateway_studio.cli;"
        "e.default_registry();"
        "heavy = [m for m in ('torch', 'transformers', 'cv2', 'PySide6', 'qtpy', 'scipy',"
        " 'skimage') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"imported at module level: {done.stdout.strip()}"


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    prefix = ".venv/bin/python -m pytest"
    command = next(line.strip() for line in readme.splitlines() if line.startswith(prefix))
    assert command in [line.strip() for line in ci.splitlines()]


def test_ci_runs_every_benchmark_in_a_smoke_mode() -> None:
    """A benchmark that breaks fails CI: .ci/run runs each one with --smoke (issue 10)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "for bench in benchmarks/*.py; do" in ci
    assert '.venv/bin/python "$bench" --smoke' in ci
    lacking = [
        p.name
        for p in sorted((ROOT / "benchmarks").glob("*.py"))
        if '"--smoke"' not in p.read_text(encoding="utf-8")
    ]
    assert not lacking, f"benchmarks without a --smoke mode: {lacking}"
