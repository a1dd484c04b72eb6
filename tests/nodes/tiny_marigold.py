"""A tiny random Marigold depth pipeline, saved like prs-eth's (diffusers layout).

The real classes at toy sizes (the UNet takes 8 latent channels: the photo's 4 and the
depth's 4), saved with ``save_pretrained(safe_serialization=True)``, so ``depth.marigold``
loads it through its real, offline ``from_pretrained`` path.

    from tests.nodes.tiny_marigold import save_tiny_marigold
"""

from __future__ import annotations

from pathlib import Path

from tests.nodes.tiny_diffusion import BLOCKS, CROSS, _bytes_to_unicode, _save_tokenizer


def save_tiny_marigold(folder: Path, *, seed: int = 0, lcm: bool = False) -> Path:
    """A random MarigoldDepthPipeline folder (about 1 MB): DDIM, or LCM with ``lcm``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        LCMScheduler,
        MarigoldDepthPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=BLOCKS,
        layers_per_block=1,
        sample_size=16,
        in_channels=8,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=CROSS,
        norm_num_groups=4,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=BLOCKS,
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )
    text = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=len(_bytes_to_unicode()) * 2,
            eos_token_id=len(_bytes_to_unicode()) * 2 + 1,
            hidden_size=CROSS,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=len(_bytes_to_unicode()) * 2 + 2,
            max_position_embeddings=32,
        )
    )
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
