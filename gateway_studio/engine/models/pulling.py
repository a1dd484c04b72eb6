"""Downloading: ``gateway-studio models pull NAME`` (configs + safetensors, or one file)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from .catalogue import CATALOGUE, MODELS_ENV, PULL_PATTERNS, ModelError, lookup, single_file_models
from .resolving import _file_problem, _folder_problem, file_hint, models_dirs


# ----------------------------------------------------------------------------- pulling
def _hub_reachable(timeout: float = 3.0) -> str | None:
    """None if the hub answers a TCP connect within ``timeout`` s, else why not."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return "HF_HUB_OFFLINE is set"
    url = urlparse(str(constants.ENDPOINT))
    host, port = url.hostname or "huggingface.co", url.port or 443
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{host} is unreachable ({exc})")

    worker = threading.Thread(target=probe, daemon=True)  # DNS has no timeout of its own
    worker.start()
    worker.join(timeout + 0.5)
    return outcome[0] if outcome else f"{host} did not answer within {timeout:.0f} s"


def _require_hub(what: str, copy_hint: str) -> None:
    """Fail at once, saying what to do instead, when the hub cannot be reached."""
    why = _hub_reachable()
    if why is not None:
        raise ModelError(
            f"cannot download '{what}': {why}. Run this command on a connected machine, "
            f"or copy {copy_hint} into {MODELS_ENV} / --models-dir."
        )


def _download_dir(target: Path | None, subdir: str) -> Path | None:
    """Where a pull writes: ``target`` (else the first models folder) / ``subdir``, made;
    None means the Hugging Face cache."""
    dirs = models_dirs()
    root = target if target is not None else (dirs[0] if dirs else None)
    if root is None:
        return None
    local_dir = root / subdir
    local_dir.mkdir(parents=True, exist_ok=True)
    return local_dir


def pull(name: str, *, target: Path | None = None) -> Path:
    """Download a model's configs + safetensors (progress bars on stderr); its folder.

    ``target`` (default: the first ``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face
    cache) receives ``<org>--<repo>/``. Fails at once when the hub is unreachable.
    Single-file models go through ``pull_file``.
    """
    info = lookup(name)
    if info is not None and info.single_file:
        return pull_file(info.name, target=target)
    repo_id = info.repo_id if info else name
    if info is None and not (repo_id.count("/") == 1 and all(repo_id.split("/"))):
        known = ", ".join(m.name for m in CATALOGUE)
        raise ModelError(f"unknown model '{name}': use a catalogue name ({known}) or a hub id")
    _require_hub(repo_id, "the model folder")
    from huggingface_hub import snapshot_download

    org, _, repo = repo_id.partition("/")
    local_dir = _download_dir(target, f"{org}--{repo}")
    try:
        path = Path(
            str(snapshot_download(repo_id, local_dir=local_dir, allow_patterns=list(PULL_PATTERNS)))
        )
    except Exception as exc:
        raise ModelError(f"downloading '{repo_id}' failed: {type(exc).__name__}: {exc}") from None
    problem = _folder_problem(path)
    if problem is not None:
        raise ModelError(f"'{repo_id}' downloaded to {path} but cannot be used: {problem}")
    return path


def pull_file(name: str, *, target: Path | None = None) -> Path:
    """Download a single-file model from the hub (a progress bar on stderr); the file.

    ``target`` (default: the first ``$GATEWAY_STUDIO_MODELS`` folder, else the Hugging Face
    cache) receives ``<name>/<filename>``, where ``resolve_file`` looks. Only the catalogued
    file is fetched. A file that is not on the hub is not fetched from anywhere else: the
    error says where to get it by hand. Fails at once when the hub is unreachable.
    """
    info = lookup(name)
    if info is None or not info.single_file:
        known = ", ".join(m.name for m in single_file_models())
        raise ModelError(f"unknown single-file model '{name}': one of {known}")
    if not info.repo_id:
        raise ModelError(f"cannot download '{info.name}'. {file_hint(info)}.")
    where = f"{info.repo_id}/{info.filename}"
    _require_hub(where, info.filename)
    import huggingface_hub

    local_dir = _download_dir(target, info.name)
    try:
        got = huggingface_hub.hf_hub_download(info.repo_id, info.filename, local_dir=local_dir)
    except Exception as exc:
        raise ModelError(f"downloading '{where}' failed: {type(exc).__name__}: {exc}") from None
    path = Path(str(got))
    problem = _file_problem(path)
    if problem is not None:
        raise ModelError(f"'{where}' downloaded to {path} but cannot be used: {problem}")
    return path
