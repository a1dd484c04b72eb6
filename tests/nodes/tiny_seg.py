"""Tiny random segmentation models saved like real ones (config + safetensors + processor).

No segmentation weights exist on these machines; a tiny model built from a real config
class, written by ``save_pretrained``, exercises the real loading path offline.
"""

from __future__ import annotations

from pathlib import Path

#: Labels of the tiny models: a real model's id2label has the same shape.
TINY_LABELS = ("wall", "person", "car", "sky")


def save_tiny_segformer(
    folder: Path,
    *,
    labels: tuple[str, ...] = TINY_LABELS,
    size: int = 64,
    seed: int = 0,
    bias: dict[str, float] | None = None,
) -> Path:
    """A 4-stage SegFormer with ~20 k parameters; ``bias`` adds to chosen class logits."""
    import torch
    from transformers import SegformerConfig, SegformerForSemanticSegmentation
    from transformers.models.segformer.image_processing_pil_segformer import (
        SegformerImageProcessorPil,
    )

    torch.manual_seed(seed)
    config = SegformerConfig(
        num_channels=3,
        num_encoder_blocks=4,
        depths=[1, 1, 1, 1],
        sr_ratios=[8, 4, 2, 1],
        hidden_sizes=[8, 16, 24, 32],
        num_attention_heads=[1, 1, 1, 1],
        mlp_ratios=[2, 2, 2, 2],
        decoder_hidden_size=16,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    model = SegformerForSemanticSegmentation(config).eval()
    if bias:
        with torch.no_grad():
            for name, value in bias.items():
                model.decode_head.classifier.bias[labels.index(name)] += value
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    SegformerImageProcessorPil(size={"height": size, "width": size}).save_pretrained(folder)
    return folder


def save_tiny_mask2former(
    folder: Path, *, labels: tuple[str, ...] = TINY_LABELS, short: int = 64, seed: int = 0
) -> Path:
    """A Mask2Former with a 4-stage Swin of 16 channels (~0.35 M parameters)."""
    import torch
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig
    from transformers.models.mask2former.image_processing_pil_mask2former import (
        Mask2FormerImageProcessorPil,
    )

    torch.manual_seed(seed)
    backbone = SwinConfig(
        image_size=short,
        patch_size=4,
        embed_dim=16,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=4,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    config = Mask2FormerConfig(
        backbone_config=backbone,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        hidden_dim=32,  # the pixel decoder's GroupNorm(32) needs a multiple of 32
        mask_feature_size=32,
        feature_size=32,
        num_queries=8,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=1,
        encoder_feedforward_dim=32,
        dim_feedforward=32,
    )
    model = Mask2FormerForUniversalSegmentation(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor = Mask2FormerImageProcessorPil(
        size={"shortest_edge": short, "longest_edge": 2 * short}, size_divisor=32
    )
    processor.save_pretrained(folder)
    return folder
