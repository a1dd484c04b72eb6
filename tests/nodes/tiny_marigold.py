"""A tiny random Marigold depth pipeline, saved like prs-eth's (diffusers layout).

The real classes at toy sizes (the UNet takes 8 latent channels: the photo's 4 and the
depth's 4), saved with ``save_pretrained(safe_serialization=True)``, so ``depth.marigold``
loads it through its real, offline ``from_pretrained`` path.

    from tests.nodes.tiny_marigold import save_tiny_marigold
"""

from __future__ import annotations

from pathlib import Path

from tests.nodes.tiny_diffusion import _save_tokenizer, tiny_parts


def save_tiny_marigold(folder: Path, *, seed: int = 0, lcm: bool = False) -> Path:
    """A random MarigoldDepthPipeline folder (about 1 MB): DDIM, or LCM with ``lcm``."""
    import torch
    from diffusers import DDIMScheduler, LCMScheduler, MarigoldDepthPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    unet, vae, text = tiny_parts(in_channels=8)
    common = {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "clip_sample": False,
        "set_alpha_to_one": False,
        "steps_offset": 1,
        "prediction_type": "v_prediction",
        "timestep_spacing": "trailing",
    }
    scheduler = LCMScheduler(**common) if lcm else DDIMScheduler(**common)
    folder = Path(folder)
    _save_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    pipe = MarigoldDepthPipeline(
        unet=unet,
        vae=vae,
        scheduler=scheduler,
        text_encoder=text,
        tokenizer=tokenizer,
        prediction_type="depth",
        scale_invariant=True,
        shift_invariant=True,
        default_denoising_steps=1 if lcm else 4,
        default_processing_resolution=64,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder
