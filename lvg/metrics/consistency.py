"""VBench's consistency formula, shared by subject (DINO) and background (CLIP) consistency: for frames t >= 1 of a
video, s_t = (max(0, cos(f_t, f_{t-1})) + max(0, cos(f_t, f_0))) / 2. A video scores the mean of s_t; the aggregate
is the mean over all s_t of all videos (VBench's `sim_per_frame`: longer videos weigh more)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lvg.metrics.base import VideoMetric


def consistency_terms(features: torch.Tensor) -> torch.Tensor:
    """s_t for t = 1 .. F-1 of one video's features [F, D] (the first frame is the range's own first)."""
    f = F.normalize(features.float(), dim=-1)
    prev = (f[1:] * f[:-1]).sum(-1).clamp(0, 1)
    first = (f[1:] * f[:1]).sum(-1).clamp(0, 1)
    return (prev + first) / 2


class ConsistencyMetric(VideoMetric):
    """Consistency of frame features from `encoder` (a `lvg.metrics.encoders.FrameEncoder`)."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.source = encoder.source

    def prepare(self, frames: np.ndarray) -> torch.Tensor:
        return self.encoder(frames)

    def score(self, prepared: torch.Tensor, start: int, end: int) -> float | None:
        if end - start < 2:
            return None
        return float(consistency_terms(prepared[start:end]).mean())

    def aggregate(self, per_video: list[float | None], lengths: list[int]) -> float | None:
        """Frame-weighted: each video's mean counts (frames - 1) times."""
        pairs = [(v, n - 1) for v, n in zip(per_video, lengths) if v is not None]
        total = sum(n for _, n in pairs)
        return float(sum(v * n for v, n in pairs) / total) if total else None
