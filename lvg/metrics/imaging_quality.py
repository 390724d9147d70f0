"""Imaging quality (VBench): MUSIQ (trained on SPAQ) per frame, frames downscaled so the longer side is at most 512,
divided by 100; a video scores the mean over its frames, the aggregate is the mean over videos. The model is given
by path: a TorchScript file (`torch.jit.save` of a module mapping float [N, 3, H, W] in [0, 1] to scores in
[0, 100]) or, with `pyiqa` installed, a MUSIQ state dict. No weight-free path: `lvg evaluate` skips it with a note
when no model is given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lvg.errors import LvgError
from lvg.metrics.base import VideoMetric
from lvg.metrics.encoders import to_float


def load_quality_model(path: str):
    """A TorchScript quality model, or pyiqa's MUSIQ with a local state dict."""
    if not Path(path).is_file():
        raise LvgError(f"imaging-quality model {path!r} not found: give a TorchScript file or a MUSIQ .pth")
    try:
        return torch.jit.load(path, map_location="cpu").eval()
    except RuntimeError:
        pass
    try:
        import pyiqa
    except ImportError as e:
        raise LvgError(f"{path!r} is not TorchScript; loading a MUSIQ state dict needs `pip install pyiqa`") from e
    return pyiqa.create_metric("musiq", as_loss=False, pretrained_model_path=path, device="cpu")


class ImagingQuality(VideoMetric):
    name = "imaging_quality"

    def __init__(self, model: str, batch_size: int = 16, max_side: int = 512) -> None:
        self.model = load_quality_model(model)
        self.batch_size, self.max_side = batch_size, max_side
        self.source = f"musiq:{model}"

    @torch.no_grad()
    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        """Per-frame quality / 100: [F]."""
        scores = []
        for i in range(0, len(frames), self.batch_size):
            x = to_float(frames[i : i + self.batch_size])
            scale = self.max_side / max(x.shape[-2:])
            if scale < 1:
                x = F.interpolate(x, scale_factor=scale, mode="bilinear", antialias=True).clamp(0, 1)
            scores.append(self.model(x).float().flatten())
        return torch.cat(scores) / 100

    def score(self, prepared: torch.Tensor, start: int, end: int) -> float | None:
        return float(prepared[start:end].mean()) if end > start else None


def compute(videos, model: str, batch_size: int = 16) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return ImagingQuality(model, batch_size).compute(videos)
