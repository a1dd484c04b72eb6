"""Generate: new pictures from depth or normals (ControlNet through ``diffusers``).

``generate.controlnet`` keeps a scene's spatial layout (its depth, or its surface
normals) and paints it anew from a prompt: Stable Diffusion 1.5 with a ControlNet
(``StableDiffusionControlNetPipeline``), or SDXL with an SDXL ControlNet when the base
model folder is an SDXL pipeline.

Weights are never fetched here: the base pipeline and the ControlNet come from a folder
the user names, the models folders (``GATEWAY_STUDIO_MODELS``) or the Hugging Face
cache, safetensors only, never ``trust_remote_code``; a pipeline folder may name only
``diffusers`` / ``transformers`` classes (its ``model_index.json`` is checked first).

The conditioning image is made in one place, ``condition_image``: ControlNet depth
models are trained on MiDaS-style relative inverse depth rendered as 8-bit grey, near =
white. That is the ``Depth`` slot's own convention (1.0 = nearest), so the values are
quantised as they are, holes already filled by the slot (never "far"). Normals are
encoded as the slot encodes them for export, rgb = (n + 1) / 2 in its camera frame.
"""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
from numpy.typing import NDArray

from gateway_studio.engine import (
    Choices,
    Context,
    Depth,
    GatewayError,
    Help,
    Image,
    ModelMissingError,
    Normals,
    Range,
    Slot,
    models,
    node,
)
from gateway_studio.engine.models import ModelInfo, register_model

from ._diffusers import pipeline_problem
from ._runtime import in_model_worker

BASE_MODELS = ("stable-diffusion-v1-5", "stable-diffusion-xl-base-1.0")
CONTROLNETS = ("controlnet-depth-sd15", "controlnet-normal-sd15", "controlnet-depth-sdxl")

for _info in (
    ModelInfo(
        "stable-diffusion-v1-5",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "image-generation",  # type: ignore[arg-type]
        5200,
        "CreativeML OpenRAIL-M (use restrictions)",
        "image",  # type: ignore[arg-type]
        "Stable Diffusion 1.5",
        "base model for generate.controlnet (SD 1.5 ControlNets), 512 px",
    ),
    ModelInfo(
        "stable-diffusion-xl-base-1.0",
        "stabilityai/stable-diffusion-xl-base-1.0",
        "image-generation",  # type: ignore[arg-type]
        13900,
        "CreativeML OpenRAIL++-M (use restrictions)",
        "image",  # type: ignore[arg-type]
        "Stable Diffusion XL base 1.0",
        "base model for generate.controlnet (SDXL ControlNets), 1024 px",
    ),
    ModelInfo(
        "controlnet-depth-sd15",
        "lllyasviel/control_v11f1p_sd15_depth",
        "controlnet",  # type: ignore[arg-type]
        1450,
        "CreativeML OpenRAIL-M (use restrictions)",
        "image",  # type: ignore[arg-type]
        "ControlNet 1.1 depth (SD 1.5)",
        "depth conditioning: relative inverse depth, near = white",
    ),
    ModelInfo(
        "controlnet-normal-sd15",
        "lllyasviel/control_v11p_sd15_normalbae",
        "controlnet",  # type: ignore[arg-type]
        1450,
        "CreativeML OpenRAIL-M (use restrictions)",
        "image",  # type: ignore[arg-type]
        "ControlNet 1.1 normals (SD 1.5)",
        "surface-normal conditioning (trained on BAE normal maps)",
    ),
    ModelInfo(
        "controlnet-depth-sdxl",
        "diffusers/controlnet-depth-sdxl-1.0",
        "controlnet",  # type: ignore[arg-type]
        5000,
        "CreativeML OpenRAIL++-M (use restrictions)",
        "image",  # type: ignore[arg-type]
        "ControlNet depth (SDXL)",
        "depth conditioning for SDXL: relative inverse depth, near = white",
    ),
):
    register_model(_info)

#: Pipeline classes a base model folder's model_index.json may name → the ControlNet
#: pipeline built from it.
_PIPELINES = {
    "StableDiffusionPipeline": "StableDiffusionControlNetPipeline",
    "StableDiffusionControlNetPipeline": "StableDiffusionControlNetPipeline",
    "StableDiffusionXLPipeline": "StableDiffusionXLControlNetPipeline",
    "StableDiffusionXLControlNetPipeline": "StableDiffusionXLControlNetPipeline",
}


def condition_image(control: Depth | Normals) -> NDArray[np.uint8]:
    """The ControlNet conditioning picture of ``control``, uint8 RGB (H, W, 3).

    Depth: the slot's values (1.0 = nearest, holes filled from their nearest measured
    pixel) as grey, near = white: what ControlNet depth models were trained on (MiDaS
    relative inverse depth). No sign is flipped: it is the slot's own convention.
    Normals: rgb = (n + 1) / 2 in the slot's camera frame (``Normals.to_rgb``: +X right,
    +Y up, +Z toward the camera). The BAE-trained normal ControlNet's own frame has not
    been checked against this one yet (a red-channel flip is reported by others)."""
    if isinstance(control, Depth):
        grey = np.rint(np.clip(control.values, 0.0, 1.0) * 255.0).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if isinstance(control, Normals):
        return np.rint(np.clip(control.to_rgb(), 0.0, 1.0) * 255.0).astype(np.uint8)
    raise GatewayError(f"a {control.type_name} cannot condition a ControlNet: use Depth or Normals")


# -- finding and checking weights -------------------------------------------------------
def _pipeline_problem(folder: Path) -> str | None:
    """None if ``folder`` is a Stable Diffusion pipeline folder we may load, else why not."""
    return pipeline_problem(folder, _PIPELINES, "Stable Diffusion pipeline")


def _resolve(name: str, ctx: Context, check: Any) -> Path:
    """A model folder for ``name`` (a path, a catalogue name or a hub id): the folder
    itself, the models folders, then the Hugging Face cache; ``ModelMissingError``
    naming every place looked in."""
    if not name:
        raise ModelMissingError("no model named: choose a catalogue name, hub id or folder")
    if models.looks_like_path(name):
        folder = ctx.resolve_path(name)
        problem = check(folder)
        if problem is None:
            return folder
        raise ModelMissingError(f"model folder {folder} cannot be used: {problem}")
    info = models.lookup(name)
    repo_id = info.repo_id if info else name
    if info is None and (repo_id.count("/") != 1 or not all(repo_id.split("/"))):
        raise ModelMissingError(
            f"unknown model '{name}': not a catalogue name ({', '.join(_names())}), not a "
            "hub id of the form org/name, and not a folder (./name or an absolute path)"
        )
    org, _, repo = repo_id.partition("/")
    looked: list[str] = []
    for root in models.models_dirs():
        for cand in (root / name, root / f"{org}--{repo}", root / repo):
            problem = check(cand)
            if problem is None:
                return cand
            looked.append(f"{cand} ({problem})")
    snap = models._hf_snapshot(repo_id, None) if repo else None
    if snap is not None and check(snap) is None:
        return snap
    looked.append(f"the Hugging Face cache ({repo_id}: not downloaded)")
    where = "\n".join(f"  - {place}" for place in looked)
    raise ModelMissingError(
        f"model '{name}' is not available locally. Looked in:\n{where}\n"
        f"Get it on a connected machine with: {download_command(repo_id)}\n"
        f"and set {models.MODELS_ENV} (or --models-dir) to the folder holding it"
    )


def download_command(repo_id: str) -> str:
    """The download of a diffusers repo's configs and safetensors weights only (SD 1.5's
    repo also holds multi-GB .ckpt / full-checkpoint files nothing here reads)."""
    name = repo_id.rsplit("/", 1)[-1]
    return (
        f"hf download {repo_id} --local-dir {name} --include '*.json' '*.txt' "
        "'*/model.safetensors' '*/diffusion_pytorch_model.safetensors' "
        "'diffusion_pytorch_model.safetensors'"
    )


def _names() -> list[str]:
    return [*BASE_MODELS, *CONTROLNETS]


def _controlnet_problem(folder: Path) -> str | None:
    if not (folder / "config.json").is_file():
        return "no such folder" if not folder.is_dir() else "no config.json"
    if not any(folder.glob("*.safetensors")):
        return "no .safetensors weights (pickle-based weights never load)"
    return None


def _stamp(folder: Path) -> str:
    parts = [
        f"{f.relative_to(folder)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
        for f in sorted(folder.rglob("*"))
        if f.suffix in (".safetensors", ".json")
    ]
    return f"{folder}|{';'.join(parts)}"


def weights_identity(params: Mapping[str, Any], ctx: Context) -> str:
    """Cache-key identity of the two models: where they resolve now, with a stamp of
    their weights and configs (replaced weights never serve a stale picture)."""
    out = []
    for param, check in (("base_model", _pipeline_problem), ("controlnet", _controlnet_problem)):
        try:
            out.append(_stamp(_resolve(str(params.get(param, "")), ctx, check)))
        except GatewayError:
            out.append(f"missing:{params.get(param)}")
    return " + ".join(out)


# -- loading (one pipeline kept) ----------------------------------------------------------
_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def load_pipeline(base: Path, controlnet: Path) -> Any:
    """The ControlNet pipeline of ``base`` + ``controlnet`` (the last one stays loaded)."""
    key = _stamp(base) + " + " + _stamp(controlnet)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        import diffusers
        from diffusers.utils import logging as df_logging
        from transformers.utils import logging as hf_logging

        df_logging.disable_progress_bar()  # progress goes through ctx.progress
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        index = json.loads((base / "model_index.json").read_text(encoding="utf-8"))
        cls = getattr(diffusers, _PIPELINES[index["_class_name"]])
        options = {"use_safetensors": True, "local_files_only": True, "low_cpu_mem_usage": False}
        net = diffusers.ControlNetModel.from_pretrained(str(controlnet), **options)
        extra = {}
        if "safety_checker" in index:  # SD 1.5 folders: the filter is the user's call
            extra = {"safety_checker": None, "requires_safety_checker": False}
        try:
            pipe = cls.from_pretrained(str(base), controlnet=net, **options, **extra)
        except (ValueError, OSError, RuntimeError) as exc:
            raise GatewayError(f"cannot load the pipeline in {base}: {exc}") from None
        pipe.set_progress_bar_config(disable=True)
        _loaded.clear()
        _loaded[key] = pipe
        return pipe


def _pil(rgb: NDArray[np.uint8], w: int, h: int) -> Any:
    from PIL import Image as PILImage

    return PILImage.fromarray(rgb).resize((w, h), PILImage.Resampling.BICUBIC)


def img2img(pipe: Any) -> Any:
    """The img2img ControlNet pipeline sharing ``pipe``'s loaded components."""
    import diffusers

    name = type(pipe).__name__.replace("ControlNetPipeline", "ControlNetImg2ImgPipeline")
    cls = getattr(diffusers, name)
    extra = {}
    if "requires_safety_checker" in inspect.signature(cls.__init__).parameters:  # SD 1.5
        extra["requires_safety_checker"] = False
    made = cls(**pipe.components, **extra)
    made.set_progress_bar_config(disable=True)
    return made


def _work_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(height, width) with the control's aspect, the long side ``long_side``, both
    multiples of 8 (what the VAE needs)."""
    h, w = size
    scale = long_side / max(h, w)
    return max(8, round(h * scale / 8) * 8), max(8, round(w * scale / 8) * 8)


# version 1
@node(
    "generate.controlnet",
    outputs={"image": Image},
    proxy=True,
    identity=weights_identity,
    label="ControlNet",
    version=1,
)
def controlnet(
    control: Depth | Normals,
    image: Image | None = None,
    *,
    prompt: Annotated[str, Help("What to paint over the scene's layout")] = "",
    negative_prompt: Annotated[str, Help("What to steer away from")] = "",
    base_model: Annotated[
        str,
        Choices(BASE_MODELS),
        Help(
            "Stable Diffusion pipeline: a catalogue name, hub id or folder (SD 1.5: "
            "CreativeML OpenRAIL-M; SDXL: OpenRAIL++-M; both restrict some uses). Weights "
            "must be local: a models folder or the Hugging Face cache"
        ),
    ] = "stable-diffusion-v1-5",
    controlnet: Annotated[
        str,
        Choices(CONTROLNETS),
        Help("ControlNet matching the base model and the input: depth or normals"),
    ] = "controlnet-depth-sd15",
    steps: Annotated[int, Range(1, 150, 1), Help("Denoising steps (preview: a quarter)")] = 20,
    guidance: Annotated[
        float, Range(0.0, 30.0, 0.1), Help("How closely to follow the prompt (CFG scale)")
    ] = 7.5,
    conditioning_scale: Annotated[
        float, Range(0.0, 2.0, 0.01), Help("How strongly the depth / normals hold the layout")
    ] = 1.0,
    control_start: Annotated[
        float, Range(0.0, 1.0, 0.01), Help("Fraction of the steps where the control starts")
    ] = 0.0,
    control_end: Annotated[
        float, Range(0.0, 1.0, 0.01), Help("Fraction of the steps where the control stops")
    ] = 1.0,
    strength: Annotated[
        float,
        Range(0.01, 1.0, 0.01),
        Help("With an image connected (img2img): how much of it is repainted (1 = all)"),
    ] = 0.8,
    seed: Annotated[int, Range(0, 2**31 - 1, 1), Help("Same seed, same picture")] = 0,
    resolution: Annotated[
        int,
        Range(64, 2048, 8),
        Help(
            "Long side the model paints at (SD 1.5: 512, SDXL: 1024), in multiples of 8; "
            "the picture is then scaled to the input's size (bicubic). Preview: half"
        ),
    ] = 512,
    ctx: Context,
) -> Image:
    """Paint a new picture that keeps the input's depth (or normals) layout; with an
    image connected, repaint that image (img2img) under the same control."""
    if control_start >= control_end:
        raise GatewayError(
            f"control_start ({control_start}) must be below control_end ({control_end})"
        )
    if image is not None and image.size != control.size:
        raise GatewayError(
            f"the image ({image.size[1]}x{image.size[0]}) and the control "
            f"({control.size[1]}x{control.size[0]}) differ in size: they must be of one picture"
        )
    base = _resolve(base_model, ctx, _pipeline_problem)  # missing weights fail here, at once
    net = _resolve(controlnet, ctx, _controlnet_problem)
    inputs: dict[str, Slot] = {"control": control}
    if image is not None:
        inputs["image"] = image
    knobs = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "base_model": str(base),
        "controlnet": str(net),
        "steps": steps,
        "guidance": guidance,
        "conditioning_scale": conditioning_scale,
        "control_start": control_start,
        "control_end": control_end,
        "strength": strength,
        "seed": seed,
        "resolution": resolution,
    }
    remote = in_model_worker("generate.controlnet", inputs, knobs, ctx)
    if remote is not None:  # the app: painted in the model worker
        return cast(Image, remote["image"])
    import torch

    ctx.progress(0.0, "loading the pipeline")
    pipe = load_pipeline(base, net)
    run_steps = max(1, steps // 4) if ctx.preview else steps
    side = max(64, resolution // 2) if ctx.preview else resolution
    h, w = _work_size(control.size, side)
    args: dict[str, Any] = {"image": _pil(condition_image(control), w, h)}
    denoised = run_steps
    if image is not None:  # img2img: the same components, the img2img pipeline
        pipe = img2img(pipe)
        photo = np.rint(np.clip(image.srgb_pixels(), 0, 1) * 255).astype(np.uint8)
        args = {"image": _pil(photo, w, h), "control_image": args["image"], "strength": strength}
        denoised = max(1, int(run_steps * strength))

    def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        ctx.check_cancelled()  # between steps: a cancel ends the node here
        ctx.progress((step + 1) / denoised, f"step {step + 1}/{denoised}")
        return kwargs

    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.inference_mode():
        result = pipe(
            prompt=prompt,
            negative_prompt=negative_prompt or None,
            num_inference_steps=run_steps,
            guidance_scale=guidance,
            controlnet_conditioning_scale=conditioning_scale,
            control_guidance_start=control_start,
            control_guidance_end=control_end,
            height=h,
            width=w,
            generator=generator,
            output_type="np",
            callback_on_step_end=on_step,
            **args,
        )
    out = np.asarray(result.images[0], dtype=np.float32)
    ch, cw = control.size
    if out.shape[:2] != (ch, cw):  # painted at the model's size, returned at the input's
        import cv2

        ctx.progress(1.0, f"painted at {w}x{h}, scaled to {cw}x{ch}")
        out = cv2.resize(out, (cw, ch), interpolation=cv2.INTER_CUBIC)
    return Image(np.clip(out, 0.0, 1.0).astype(np.float32))
