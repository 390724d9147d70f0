"""Tiny seeded random DINO / CLIP image encoders and quality heads saved like real checkpoints (built from config)."""

from __future__ import annotations

from pathlib import Path

import torch


def save_tiny_clip(path: Path) -> Path:
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, projection_dim=16,
    )  # fmt: skip
    CLIPVisionModelWithProjection(config).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return path


def save_tiny_dino(path: Path) -> Path:
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
    )  # DINO ViT-B/16's architecture, shrunk
    ViTModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def save_aesthetic_head(path: Path, dim: int = 16) -> Path:
    torch.manual_seed(1)
    torch.save(torch.nn.Linear(dim, 1).state_dict(), path)
    return path


class TinyQuality(torch.nn.Module):
    """A stand-in quality model: 100 x the mean brightness (a known answer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(1, 2, 3)) * 100


def save_tiny_quality(path: Path) -> Path:
    torch.jit.save(torch.jit.script(TinyQuality()), str(path))
    return path
