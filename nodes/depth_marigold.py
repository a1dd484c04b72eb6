"""depth.marigold: diffusion depth (Marigold, through diffusers' MarigoldDepthPipeline).

Marigold denoises a depth latent conditioned on the photo: slower than Depth-Anything by
one to two orders of magnitude on a CPU, with unusually clean edges. It predicts
*affine-invariant* depth (larger = farther, unknown shift and scale), which becomes a
``Depth`` only through ``Depth.from_affine_invariant``: the node never flips it.

Weights: the catalogue's ``marigold-depth-lcm-v1-0`` / ``marigold-depth-v1-1``, a hub id
or a diffusers folder (model_index.json + one folder per component), resolved by the
model store (local files only, safetensors only, only diffusers/transformers classes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import numpy as np

from gateway_studio.engine import (
    Choices,
    Context,
    Depth,
    GatewayError,
    Help,
    Image,
    Range,
    models,
    node,
)

from ._diffusers import pipeline_problem
from ._runtime import in_model_worker

MARIGOLD_MODELS: tuple[str, ...] = tuple(m.name for m in models.known_models("diffusion-depth"))
_PIPELINE = "MarigoldDepthPipeline"


def _folder(model: str, ctx: Context) -> Path:
    """The pipeline folder of ``model``, checked: a Marigold depth pipeline whose parts
    are diffusers/transformers classes with safetensors weights."""
    name = str(ctx.resolve_path(model)) if models.looks_like_path(model) else model
    folder = models.resolve(name).path
    problem = pipeline_problem(folder, (_PIPELINE,), _PIPELINE)
    if problem is not None:
        raise GatewayError(f"{folder}: {problem}")
    return folder


def weights_identity(params: Mapping[str, Any], ctx: Context) -> str:
    """Cache-key identity: where the weights resolve now, with a stamp of them."""
    name = str(params.get("model", ""))
    if models.looks_like_path(name):
        name = str(ctx.resolve_path(name))
    return models.identity(name)


_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def load_pipeline(folder: Path) -> Any:
    """The pipeline in ``folder`` (the last one loaded stays in memory), on the device."""
    key = models.identity(str(folder))
    with _lock:
        if key not in _loaded:
            import diffusers
            from diffusers.utils import logging as df_logging
            from transformers.utils import logging as hf_logging

            df_logging.disable_progress_bar()  # progress goes through ctx.progress
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            pipe = diffusers.MarigoldDepthPipeline.from_pretrained(
                str(folder), use_safetensors=True, local_files_only=True, low_cpu_mem_usage=False
            )
            _loaded.clear()
            _loaded[key] = pipe.to(models.pick_device(None))
        return _loaded[key]


class _Steps:
    """Stands in for the pipeline's progress bars: reports each denoising step and stops
    between steps when the evaluation is cancelled."""

    def __init__(self, ctx: Context, total: int) -> None:
        self.ctx, self.total, self.done = ctx, max(total, 1), 0

    def __call__(
        self, iterable: Any = None, total: int | None = None, desc: str = "", leave: bool = True
    ) -> Iterator[Any]:
        for item in iterable if iterable is not None else range(total or 0):
            if str(desc).startswith("Diffusion"):
                self.ctx.check_cancelled()
                self.done += 1
                self.ctx.progress(
                    0.1 + 0.85 * (self.done - 1) / self.total,
                    f"denoising step {self.done} of {self.total}",
                )
            yield item


@node(
    "depth.marigold",
    outputs={"depth": Depth},
    proxy=False,
    identity=weights_identity,
    family="depth",
    label="Marigold depth",
    aliases=("marigold", "diffusion depth", "hero depth"),
)
def marigold(
    image: Image,
    *,
    model: Annotated[
        str,
        Choices(MARIGOLD_MODELS),
        Help(
            "Marigold weights: LCM v1-0 (1-4 steps) or v1-1 (DDIM), a hub id or a local "
            "diffusers folder. Weights must be local: gateway-studio models pull NAME"
        ),
    ] = "marigold-depth-lcm-v1-0",
    steps: Annotated[
        int, Range(0, 50, 1), Help("Denoising steps (0 = the model's own: 1 for LCM, 4 for v1-1)")
    ] = 0,
    ensemble_size: Annotated[
        int,
        Range(1, 10, 1),
        Help("Predictions averaged (each with its own noise): smoother, N times slower"),
    ] = 1,
    processing_resolution: Annotated[
        int,
        Range(0, 2048, 8),
        Help("Long side the model works at (0 = the model's own, 768); the result is resized"),
    ] = 0,
    seed: Annotated[
        int, Range(0, 2**31 - 1, 1), Help("Noise seed: the same seed gives the same depth")
    ] = 0,
    normalisation: Annotated[
        Literal["minmax", "percentile"],
        Help("Map the prediction to [0, 1] per photo: min-max, or robust 1-99 percentiles"),
    ] = "minmax",
    ctx: Context,
) -> Depth:
    """Diffusion depth with Marigold: clean edges, worth the wait for hero shots.

    Affine-invariant depth (larger = farther) goes through ``Depth.from_affine_invariant``
    (reversed, not inverted: linear in depth, 1 = nearest). Reports each denoising step
    and stops between steps when cancelled."""
    folder = _folder(model, ctx)  # missing or unusable weights fail here, at once
    params = {
        "model": str(folder),
        "steps": steps,
        "ensemble_size": ensemble_size,
        "processing_resolution": processing_resolution,
        "seed": seed,
        "normalisation": normalisation,
    }
    remote = in_model_worker("depth.marigold", {"image": image}, params, ctx)
    if remote is not None:  # the app: computed in the model worker
        return cast(Depth, remote["depth"])
    import torch

    ctx.progress(0.0, "loading Marigold")
    pipe = load_pipeline(folder)
    ctx.check_cancelled()
    count = steps or int(pipe.default_denoising_steps or 1)
    progress = _Steps(ctx, count * ensemble_size)
    pixels = np.array(image.srgb_pixels(), dtype=np.float32)  # writable: torch wraps it
    with _lock:  # the progress hook belongs to this call
        pipe.progress_bar = progress
        try:
            out = pipe(
                pixels,
                num_inference_steps=steps or None,
                ensemble_size=ensemble_size,
                processing_resolution=processing_resolution or None,
                generator=torch.Generator(device="cpu").manual_seed(seed),
                output_type="np",
            )
        finally:
            del pipe.progress_bar
    prediction = np.asarray(out.prediction, dtype=np.float32)[0, :, :, 0]
    if prediction.shape != image.size:
        raise GatewayError(
            f"Marigold returned {prediction.shape[1]}x{prediction.shape[0]} for a "
            f"{image.size[1]}x{image.size[0]} photo"
        )
    ctx.progress(1.0, f"done: {count} step(s) × {ensemble_size}")
    return Depth.from_affine_invariant(prediction, normalisation=normalisation)
