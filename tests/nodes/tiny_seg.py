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
