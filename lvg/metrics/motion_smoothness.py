"""Motion smoothness (VBench): the odd frames are reconstructed from the even ones by a frame interpolator and
scored (255 - MAE) / 255 (MAE over all reconstructed frames, uint8 pixels). A video scores its own value; the
aggregate is the mean over videos. VBench's interpolator is AMT-S; here it is pluggable (`lvg.metrics.interpolators`)
with the weight-free Farneback-flow interpolator as default. `source` names the interpolator used.

For per-clip scores without a second pass, `prepare` reconstructs every frame t from t-1 and t+1 once; a range
[s, e) then uses the frames s+1, s+3, ... (its own odd frames), as VBench would on that range alone.
"""

from __future__ import annotations

import numpy as np

from lvg.metrics.base import VideoMetric
from lvg.metrics.interpolators import make_interpolator


class MotionSmoothness(VideoMetric):
    name = "motion_smoothness"

    def __init__(self, interpolator="farneback") -> None:
        self.interpolator = make_interpolator(interpolator)
        self.source = getattr(self.interpolator, "source", f"interpolator {interpolator!r}")

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """MAE of frame t against its reconstruction from t-1 and t+1, for t = 1 .. F-2 (index t-1)."""
        x = frames.astype(np.int16)
        errors = [
            np.abs(self.interpolator(frames[t - 1], frames[t + 1]).astype(np.int16) - x[t]).mean()
            for t in range(1, len(frames) - 1)
        ]
        return np.asarray(errors, dtype=np.float64)

    def score(self, prepared: np.ndarray, start: int, end: int) -> float | None:
        odd = [prepared[t - 1] for t in range(start + 1, end - 1, 2)]
        return float((255 - np.mean(odd)) / 255) if odd else None


def compute(videos, interpolator="farneback") -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return MotionSmoothness(interpolator).compute(videos)
