"""The catalogue: the models we know by name, what they output, their licences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gateway_studio.engine.errors import GatewayError

Task = Literal[
    "depth-estimation",
    "semantic-segmentation",
    "universal-segmentation",
    # Single-file models (see ``resolve_file``), run by OpenCV rather than transformers.
    "face-detection",
    "person-segmentation",
    # Diffusers pipeline folders (model_index.json + a folder per component).
    "diffusion-depth",
]
Precision = Literal["fp32", "bf16", "fp16"]
OutputKind = Literal["relative-inverse", "metric", "affine-invariant", "labels", "boxes"]

#: task → the transformers Auto class that loads it.
TASKS: dict[str, str] = {
    "depth-estimation": "AutoModelForDepthEstimation",
    "semantic-segmentation": "AutoModelForSemanticSegmentation",
    "universal-segmentation": "AutoModelForUniversalSegmentation",
}

MODELS_ENV = "GATEWAY_STUDIO_MODELS"
DEVICE_ENV = "GATEWAY_STUDIO_DEVICE"
#: How many loaded models stay in memory (least recently used are dropped).
MAX_LOADED = 4
#: Only these files are downloaded by ``pull``: configs, safetensors weights, vocabularies.
PULL_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "README.md")


class ModelError(GatewayError):
    """A model exists but cannot be used (wrong task, pickle-only weights, bad device)."""


# ----------------------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class ModelInfo:
    """A model we know by name. ``size_mb`` is the approximate download.

    A *single-file* model (``filename`` set: one ONNX / TFLite file run by OpenCV, not a
    transformers folder) resolves with ``resolve_file``; ``repo_id`` is then the hub
    repository holding ``filename``, or "" when the file is not on the hub and
    ``source_url`` says where to get it.
    """

    name: str
    repo_id: str
    task: Task
    size_mb: float
    licence: str
    #: What the raw output means: relative inverse depth (larger = nearer), metric depth
    #: in metres (larger = farther), class labels, or boxes (detectors).
    output: OutputKind
    label: str
    description: str = ""
    #: Single-file models: the weights file's name (in the hub repo and on disk).
    filename: str = ""
    #: Where the file comes from when it is not on the hub (or its upstream home).
    source_url: str = ""
    #: Extra sub-folders of a models folder the file may sit in (e.g. ``face/``).
    folders: tuple[str, ...] = ()

    @property
    def single_file(self) -> bool:
        return bool(self.filename)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "repo_id": self.repo_id,
            "task": self.task,
            "size_mb": self.size_mb,
            "licence": self.licence,
            "output": self.output,
            "label": self.label,
            "description": self.description,
            "filename": self.filename or None,
            "source_url": self.source_url or None,
        }


CATALOGUE: list[ModelInfo] = [
    ModelInfo(
        "depth-anything-v2-small",
        "depth-anything/Depth-Anything-V2-Small-hf",
        "depth-estimation",
        99,
        "Apache-2.0",
        "relative-inverse",
        "Depth-Anything-V2 Small",
        "ViT-S/14 DPT, 24.8 M params; fast, the default",
    ),
    ModelInfo(
        "depth-anything-v2-base",
        "depth-anything/Depth-Anything-V2-Base-hf",
        "depth-estimation",
        390,
        "CC-BY-NC-4.0",
        "relative-inverse",
        "Depth-Anything-V2 Base",
        "ViT-B/14 DPT, 97.5 M params; non-commercial licence",
    ),
    ModelInfo(
        "depth-anything-v2-large",
        "depth-anything/Depth-Anything-V2-Large-hf",
        "depth-estimation",
        1340,
        "CC-BY-NC-4.0",
        "relative-inverse",
        "Depth-Anything-V2 Large",
        "ViT-L/14 DPT, 335 M params; non-commercial licence",
    ),
    ModelInfo(
        "dpt-hybrid-midas",
        "Intel/dpt-hybrid-midas",
        "depth-estimation",
        490,
        "Apache-2.0",
        "relative-inverse",
        "DPT-Hybrid (MiDaS 3.0)",
        "ViT-hybrid DPT trained on MIX-6; relative inverse depth",
    ),
    ModelInfo(
        "zoedepth-nyu-kitti",
        "Intel/zoedepth-nyu-kitti",
        "depth-estimation",
        1380,
        "MIT",
        "metric",
        "ZoeDepth (NYU + KITTI)",
        "metric depth in metres (indoor + outdoor heads)",
    ),
    ModelInfo(
        "segformer-b0-ade",
        "nvidia/segformer-b0-finetuned-ade-512-512",
        "semantic-segmentation",
        15,
        "NVIDIA (non-commercial)",
        "labels",
        "SegFormer-B0 (ADE20K)",
        "150 ADE20K classes at 512x512; 3.75 M params",
    ),
    # Marigold (depth.marigold): Stable Diffusion 2 fine-tuned for depth, diffusers folders;
    # ~0.9 B parameters (about 3.6 GB of fp32 safetensors).
    ModelInfo(
        "marigold-depth-lcm-v1-0",
        "prs-eth/marigold-depth-lcm-v1-0",
        "diffusion-depth",
        3600,
        "see the model card",
        "affine-invariant",
        "Marigold depth LCM v1-0",
        "diffusion depth in 1-4 steps (latent consistency); clean edges, slow on a CPU",
    ),
    ModelInfo(
        "marigold-depth-v1-1",
        "prs-eth/marigold-depth-v1-1",
        "diffusion-depth",
        3600,
        "see the model card",
        "affine-invariant",
        "Marigold depth v1-1",
        "diffusion depth (DDIM, ~4 steps); the sharpest edges, for hero shots",
    ),
    # Single-file models (ONNX / TFLite: data, no code runs on load), run by OpenCV.
    ModelInfo(
        "yunet",
        "opencv/face_detection_yunet",
        "face-detection",
        0.232,
        "MIT",
        "boxes",
        "YuNet face detector",
        "OpenCV model zoo; boxes, scores, five landmarks (faces.detect backend 'yunet')",
        filename="face_detection_yunet_2023mar.onnx",
        source_url="https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
        folders=("face",),
    ),
    ModelInfo(
        "mediapipe-selfie",
        "",  # not on the Hugging Face hub: MediaPipe serves it from its own bucket
        "person-segmentation",
        0.249,
        "Apache-2.0",
        "labels",
        "MediaPipe selfie segmentation",
        "person vs background at 256x256 (segment.semantic model 'mediapipe-selfie')",
        filename="selfie_segmentation.tflite",
        source_url="https://storage.googleapis.com/mediapipe-assets/selfie_segmentation.tflite",
        folders=("mediapipe",),
    ),
]


def register_model(info: ModelInfo) -> None:
    """Add (or replace, by name) a catalogue entry, e.g. from a node pack."""
    for i, known in enumerate(CATALOGUE):
        if known.name == info.name:
            CATALOGUE[i] = info
            return
    CATALOGUE.append(info)


def known_models(task: str | None = None) -> list[ModelInfo]:
    return [m for m in CATALOGUE if task is None or m.task == task]


def lookup(name: str) -> ModelInfo | None:
    """The catalogue entry for a catalogue name or hub id (case-insensitive), else None."""
    wanted = name.strip().lower()
    for m in CATALOGUE:
        if wanted and wanted in (m.name.lower(), m.repo_id.lower()):  # repo_id may be ""
            return m
    return None


def pull_command(name: str) -> str:
    info = lookup(name)
    return f"gateway-studio models pull {info.name if info else name}"


def single_file_models() -> list[ModelInfo]:
    """The catalogue's single-file models (one ONNX / TFLite file each)."""
    return [m for m in CATALOGUE if m.single_file]


def _size(mb: float) -> str:
    if mb < 1:  # single-file models are a few hundred KB
        return f"{mb * 1000:.0f} KB"
    return f"{mb / 1000:.2f} GB" if mb >= 1000 else f"{mb:g} MB"
