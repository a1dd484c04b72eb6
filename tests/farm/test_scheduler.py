"""`dask scheduler` and two `dask worker` processes started as commands; the CLI submits
the batch with --scheduler and writes what a serial run writes; everything is shut down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_studio.engine import Evaluator, SlotCache, load_patch
from gateway_studio.engine.batch import plan_batch, run_jobs

from .shots import FOG, files, photos

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_batch_on_a_scheduler_and_two_worker_commands(tmp_path: Path) -> None:
    images = photos(tmp_path / "in", 6)
    run_jobs(
        plan_batch(load_patch(FOG), images, tmp_path / "serial").jobs, Evaluator(SlotCache(None))
    )
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    log = (tmp_path / "dask.log").open("wb")
    port = address.rsplit(":", 1)[1]
    procs = [
        subprocess.Popen(
            [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
            stdout=log,
            stderr=log,
            env=env,
            cwd=tmp_path,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        BIN / "dask",
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=log,
                    stderr=log,
                    env=env,
                    cwd=tmp_path,
                )
            )
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            assert len(client.scheduler_info()["workers"]) == 2
        done = subprocess.run(
            [
                BIN / "gateway-studio",
                "render",
                str(FOG),
                "--batch",
                str(tmp_path / "in" / "*.png"),
                "--out-dir",
                str(tmp_path / "farm"),
                "--scheduler",
                address,
                "--cache-dir",
                str(tmp_path / "shared-cache"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert "rendered 6 of 6 images (6 file(s) written)" in done.stderr
        assert files(tmp_path / "farm") == files(tmp_path / "serial")
    finally:
        _stop(procs)
        log.close()
    assert all(proc.poll() is not None for proc in procs)  # everything shut down
