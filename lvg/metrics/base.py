"""What every video metric shares: frames as uint8 [F, H, W, 3], a `prepare` pass over a whole video (per-frame
features, per-pair flows: batched, done once) and a `score` of any frame range of it, so a long video's per-clip
scores cost no second feature pass.

`source` names the path that produced the numbers (e.g. `dino:/models/dino-vitb16`, `pixels (weight-free)`); the
report carries it beside every number.
"""

from __future__ import annotations

import numpy as np
import torch


def as_uint8_frames(video) -> np.ndarray:
    """A video as uint8 [F, H, W, 3]: uint8 arrays pass through; floats are taken as [0, 1] ([F, H, W, 3]) or, for
    torch tensors [F, 3, H, W] or [3, F, H, W] (lvg's clip layout, values in [-1, 1])."""
    if torch.is_tensor(video):
        x = video.detach().float().cpu()
        if x.ndim == 4 and x.shape[0] == 3 and x.shape[1] != 3:  # [3, F, H, W] in [-1, 1]
            x = (x.permute(1, 2, 3, 0) + 1) / 2
        elif x.ndim == 4 and x.shape[1] == 3:  # [F, 3, H, W] in [0, 1]
            x = x.permute(0, 2, 3, 1)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    x = np.asarray(video)
    if x.dtype == np.uint8:
        return x
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


class VideoMetric:
    """A metric over frame ranges of a video (higher is better unless `higher_is_better` is False).

    `prepare(frames)` runs once per video; `score(prepared, start, end)` is the metric of frames[start:end] (None
    where the range is too short for it). `compute(videos)` scores whole videos and aggregates per `aggregate`."""

    name: str = "metric"
    higher_is_better: bool = True
    source: str = ""

    def prepare(self, frames: np.ndarray):
        return frames

    def score(self, prepared, start: int, end: int) -> float | None:
        raise NotImplementedError

    def aggregate(self, per_video: list[float | None], lengths: list[int]) -> float | None:
        """Mean over videos (VBench's default); metrics that weight by frames override this."""
        vals = [v for v in per_video if v is not None]
        return float(np.mean(vals)) if vals else None

    def compute(self, videos) -> tuple[float | None, list[float | None]]:
        frames = [as_uint8_frames(v) for v in videos]
        per_video = [self.score(self.prepare(f), 0, len(f)) for f in frames]
        return self.aggregate(per_video, [len(f) for f in frames]), per_video
