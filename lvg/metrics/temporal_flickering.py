"""Temporal flickering (VBench): (255 - mean absolute difference of consecutive uint8 frames) / 255; a video scores
the mean over its consecutive pairs, the aggregate is the mean over videos. VBench applies it only to videos of
static-scene prompts (so that motion does not count as flicker); lvg applies it to every video and every clip, so
read it together with dynamic degree: on moving content it also measures motion. Weight-free."""

from __future__ import annotations

import numpy as np

from lvg.metrics.base import VideoMetric


class TemporalFlickering(VideoMetric):
    name = "temporal_flickering"
    source = "pixels (weight-free)"

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """Mean absolute difference of each consecutive pair: [F - 1]."""
        x = frames.astype(np.int16)
        return np.abs(x[1:] - x[:-1]).reshape(len(x) - 1, -1).mean(1) if len(x) > 1 else np.zeros(0)

    def score(self, prepared: np.ndarray, start: int, end: int) -> float | None:
        pairs = prepared[start : end - 1]
        return float((255 - pairs.mean()) / 255) if len(pairs) else None


def compute(videos) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return TemporalFlickering().compute(videos)
