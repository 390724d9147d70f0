"""Aesthetic quality (VBench): the LAION aesthetic predictor, a linear head on L2-normalised CLIP ViT-L/14 image
embeddings, divided by 10; a video scores the mean over its frames, the aggregate is the mean over videos. Needs
both models by path (the CLIP checkpoint and the head's state dict, e.g. `sa_0_4_vit_l_14_linear.pth`); there is no
weight-free path, so `lvg evaluate` skips it with a note when they are not given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lvg.errors import LvgError
from lvg.metrics.base import VideoMetric
from lvg.metrics.encoders import CLIPEncoder


def load_linear_head(path: str, dim: int) -> torch.nn.Linear:
    """A Linear(dim, 1) from a state dict with `weight` [1, dim] and `bias` [1]."""
    if not Path(path).is_file():
        raise LvgError(f"aesthetic head {path!r} not found: give the LAION predictor's state dict (.pth)")
    state = torch.load(path, map_location="cpu")
    if not isinstance(state, dict) or tuple(state.get("weight", torch.empty(0)).shape) != (1, dim):
        raise LvgError(f"aesthetic head {path!r} is not a Linear({dim}, 1) state dict: it must match the CLIP model")
    head = torch.nn.Linear(dim, 1)
    head.load_state_dict({"weight": state["weight"], "bias": state["bias"]})
    return head.eval()


class AestheticQuality(VideoMetric):
    name = "aesthetic_quality"

    def __init__(self, clip: str, head: str, batch_size: int = 64) -> None:
        self.encoder = CLIPEncoder(clip, batch_size)
        self.head = load_linear_head(head, self.encoder.model.config.projection_dim)
        self.source = f"laion head {head} on {self.encoder.source}"

    @torch.no_grad()
    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """Per-frame aesthetic score / 10: [F]."""
        return self.head(F.normalize(self.encoder(frames), dim=-1))[:, 0] / 10

    def score(self, prepared: torch.Tensor, start: int, end: int) -> float | None:
        return float(prepared[start:end].mean()) if end > start else None


def compute(videos, clip: str, head: str, batch_size: int = 64) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return AestheticQuality(clip, head, batch_size).compute(videos)
