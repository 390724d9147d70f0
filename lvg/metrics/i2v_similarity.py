"""Image-to-video similarity to the input image (VBench-I2V's `i2v_subject` formula): with features f of the input
image g and of the frames, a video scores 0.5 * max_t max(0, cos(f_g, f_t)) + 0.5 * mean_{t>=1} max(0, cos(f_t,
f_{t-1})) (VBench's min-term weight is 0); the aggregate is the mean over videos.

Encoders: `i2v_subject` uses DINO (as VBench) or, weight-free, centred pixels; `i2v_background` uses CLIP or,
weight-free, colour histograms (VBench-I2V uses DreamSim there, which lvg does not ship: an lvg substitution).
For a frame range [s, e) of a long video the input image is frame s - 1 (in chunk-wise I2V, the range's guide);
a range starting at 0 uses its own first frame.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lvg.metrics.base import VideoMetric, as_uint8_frames
from lvg.metrics.encoders import CLIPEncoder, DINOEncoder, HistogramEncoder, PixelEncoder


def i2v_score(image: torch.Tensor, frames: torch.Tensor) -> float:
    """VBench's i2v formula for features of the input image [D] and of the frames [F, D] (F >= 2)."""
    f = F.normalize(frames.float(), dim=-1)
    g = F.normalize(image.float(), dim=-1)
    conformity = (f @ g).clamp(0, 1)
    consecutive = (f[1:] * f[:-1]).sum(-1).clamp(0, 1)
    return float(0.5 * conformity.max() + 0.5 * consecutive.mean())


class I2VSimilarity(VideoMetric):
    """Args: kind: `subject` (DINO / pixels) or `background` (CLIP / histograms). path: the model, or None."""

    def __init__(self, kind: str = "subject", path: str | None = None, batch_size: int = 64) -> None:
        if kind == "subject":
            self.encoder = DINOEncoder(path, batch_size) if path else PixelEncoder()
        else:
            self.encoder = CLIPEncoder(path, batch_size) if path else HistogramEncoder()
        self.name = f"i2v_{kind}"
        self.source = self.encoder.source

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        return self.encoder(frames)

    def score(self, prepared: torch.Tensor, start: int, end: int) -> float | None:
        if end - start < 2:
            return None
        return i2v_score(prepared[max(start - 1, 0)], prepared[start:end])

    def compute(self, videos, images=None) -> tuple[float | None, list[float | None]]:
        """With `images` (one uint8 [H, W, 3] per video), each video is scored against its image; without, against
        its first frame."""
        per_video = []
        for i, video in enumerate(videos):
            frames = as_uint8_frames(video)
            if images is not None:
                frames = np.concatenate([as_uint8_frames(np.asarray(images[i])[None]), frames])
            per_video.append(self.score(self.prepare(frames), 1 if images is not None else 0, len(frames)))
        return self.aggregate(per_video, []), per_video


def compute(videos, images=None, kind: str = "subject", path: str | None = None) -> tuple:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos against their input images."""
    return I2VSimilarity(kind, path).compute(videos, images)
