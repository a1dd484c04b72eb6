"""Tiny random-weight models saved like real ones, for tests (nodes and UI).

No real weights exist on the test machines, so tests build a model from its config with
the real architecture, shrunk (FACTS.md: keep the 4 backbone stages of Depth-Anything;
hidden 32 / 4 layers / 2 heads saves to ~0.7 MB and runs in ~0.06 s), save it with
``save_pretrained(safe_serialization=True)`` beside the image processor config the hub
model ships, and point the model store at the folder. The node then runs through the real
loading path, offline.

    from tests.nodes.tiny_models import save_tiny_depth_anything
    folder = save_tiny_depth_anything(tmp_path / "models" / "depth-anything-v2-small")
"""

from __future__ import annotations

import json
from pathlib import Path

#: The image processor config of depth-anything/Depth-Anything-V2-Small-hf (and Base/Large).
DEPTH_ANYTHING_PROCESSOR = {
    "do_normalize": True,
    "do_pad": False,
    "do_rescale": True,
    "do_resize": True,
    "ensure_multiple_of": 14,
    "image_mean": [0.485, 0.456, 0.406],
    "image_processor_type": "DPTImageProcessor",
    "image_std": [0.229, 0.224, 0.225],
    "keep_aspect_ratio": True,
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 518, "width": 518},
    "size_divisor": None,
}


def tiny_depth_anything_config(hidden: int = 32, layers: int = 4, heads: int = 2):  # type: ignore[no-untyped-def]
    from transformers import DepthAnythingConfig, Dinov2Config

    backbone = Dinov2Config(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 4,
        image_size=518,
        patch_size=14,
        out_indices=list(range(1, layers + 1))[-4:],
        reshape_hidden_states=False,
        apply_layernorm=True,
    )
    return DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=hidden,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type="relative",
    )


def save_tiny_depth_anything(folder: Path, *, seed: int = 0, size: int = 518, config=None) -> Path:  # type: ignore[no-untyped-def]
    """Build a random tiny Depth-Anything and save it (safetensors + processor config)."""
    import torch
    from transformers import DepthAnythingForDepthEstimation

    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config or tiny_depth_anything_config())
    # Random init leaves the head almost constant; perturb every weight so the output
    # depends strongly on the image (a meaningful fidelity comparison).
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    processor = dict(DEPTH_ANYTHING_PROCESSOR, size={"height": size, "width": size})
    (folder / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))
    return folder


#: A processor config modelled on Intel/zoedepth-nyu-kitti's (not checked against the hub).
ZOEDEPTH_PROCESSOR = {
    "do_normalize": True,
    "do_pad": True,
    "do_rescale": True,
    "do_resize": True,
    "ensure_multiple_of": 32,
    "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "ZoeDepthImageProcessor",
    "image_std": [0.5, 0.5, 0.5],
    "keep_aspect_ratio": True,
    "resample": 2,
    "rescale_factor": 0.00392156862745098,
    "size": {"height": 384, "width": 512},
}


def save_tiny_zoedepth(folder: Path, *, seed: int = 0) -> Path:
    """A random tiny ZoeDepth (BEiT backbone, one metric bin head), saved like the hub's."""
    import torch
    from transformers import BeitConfig, ZoeDepthConfig, ZoeDepthForDepthEstimation

    backbone = BeitConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=384,
        patch_size=16,
        out_indices=[1, 2, 3, 4],
        use_relative_position_bias=True,
        reshape_hidden_states=False,
    )
    config = ZoeDepthConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        reassemble_hidden_size=32,
        bottleneck_features=16,
        bin_embedding_dim=16,
        num_relative_features=8,
        bin_configurations=[{"n_bins": 8, "min_depth": 0.001, "max_depth": 10.0, "name": "nyu"}],
    )
    torch.manual_seed(seed)
    model = ZoeDepthForDepthEstimation(config)
    with torch.no_grad():  # random init gives a constant map; make it depend on the image
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "preprocessor_config.json").write_text(json.dumps(ZOEDEPTH_PROCESSOR, indent=2))
    return folder
