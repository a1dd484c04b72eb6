"""Tiny random Stable Diffusion + ControlNet folders, saved like the real ones, for tests.

The real classes (UNet2DConditionModel, AutoencoderKL, CLIPTextModel, ControlNetModel,
DDIMScheduler) at toy sizes, saved with ``save_pretrained(safe_serialization=True)`` in
the hub's layout (``model_index.json`` + one folder per component), so
``generate.controlnet`` loads them through its real, offline ``from_pretrained`` path.
A CLIP tokenizer is written from a byte-level vocabulary (no merges): every character
is a token, which is all a random text encoder needs.

    from tests.nodes.tiny_diffusion import save_tiny_sd, save_tiny_controlnet
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BLOCKS = (8, 16)
CROSS = 16


def _bytes_to_unicode() -> list[str]:
    """GPT-2 / CLIP's byte → printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _save_tokenizer(folder: Path) -> None:
    chars = _bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"model_max_length": 32, "tokenizer_class": "CLIPTokenizer"})
    )


def tiny_parts(*, in_channels: int) -> tuple[Any, Any, Any]:
    """A toy UNet (``in_channels`` latent channels in), VAE and CLIP text encoder, made in
    that order from torch's current random state."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    unet = UNet2DConditionModel(
        block_out_channels=BLOCKS,
        layers_per_block=1,
        sample_size=16,
        in_channels=in_channels,
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
    vocab = len(_bytes_to_unicode()) * 2
    text = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=vocab,
            eos_token_id=vocab + 1,
            hidden_size=CROSS,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=vocab + 2,
            max_position_embeddings=32,
        )
    )
    return unet, vae, text


def save_tiny_sd(folder: Path, *, seed: int = 0) -> Path:
    """A random Stable Diffusion 1.5-shaped pipeline folder (about 1 MB)."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    torch.manual_seed(seed)
    unet, vae, text = tiny_parts(in_channels=4)
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    folder = Path(folder)
    _save_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def save_tiny_controlnet(folder: Path, *, seed: int = 1) -> Path:
    """A random ControlNet matching ``save_tiny_sd``'s UNet."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel(
        block_out_channels=BLOCKS,
        layers_per_block=1,
        in_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        cross_attention_dim=CROSS,
        conditioning_embedding_out_channels=(4, 8),
        norm_num_groups=4,
        attention_head_dim=2,
    )
    with torch.no_grad():  # zero-initialised outputs would make the control do nothing
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    net.save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


def save_tiny_sdxl(folder: Path, controlnet: Path, *, seed: int = 0) -> Path:
    """A random SDXL-shaped pipeline (two text encoders, text_time embedding) in
    ``folder`` and a matching random SDXL ControlNet in ``controlnet``."""
    import torch
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    torch.manual_seed(seed)
    common = {
        "block_out_channels": BLOCKS,
        "layers_per_block": 1,
        "in_channels": 4,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "attention_head_dim": 2,
        "use_linear_projection": True,
        "addition_embed_type": "text_time",
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 8 * 6 + CROSS,  # 6 time ids + pooled text
        "cross_attention_dim": 2 * CROSS,  # both text encoders' hidden states
        "norm_num_groups": 4,
    }
    unet = UNet2DConditionModel(
        sample_size=16, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **common
    )
    net = ControlNetModel(conditioning_embedding_out_channels=(4, 8), **common)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    vae = AutoencoderKL(
        block_out_channels=BLOCKS,
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
    )
    n = len(_bytes_to_unicode()) * 2
    config = CLIPTextConfig(
        bos_token_id=n,
        eos_token_id=n + 1,
        hidden_size=CROSS,
        intermediate_size=32,
        num_attention_heads=2,
        num_hidden_layers=2,
        vocab_size=n + 2,
        max_position_embeddings=32,
        projection_dim=CROSS,
    )
    folder = Path(folder)
    for sub in ("tokenizer", "tokenizer_2"):
        _save_tokenizer(folder / sub)
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(config),
        text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    net.save_pretrained(str(controlnet), safe_serialization=True)
    return folder
