"""Toy-world ground-truth metrics, per frame, weight-free (definitions in `lvg.metrics.toy_drift`):

- `toy_mass_kept`: sprite mass kept relative to the guide frame, less stray pixels of its colours (higher is
  better; blind to position);
- `toy_size_fidelity`: per sprite colour visible in the true frame, min/max of the generated sprite's and the true
  pixel count, less the stray share (a sprite grown, shrunk or scattered scores lower; blind to position);
- `toy_position_error`: per sprite visible in the true frame, the distance in pixels between its colour's sprite
  centroid and the true centre, a sprite not found counting as the frame diagonal (lower is better; occlusion biases
  centroids, so it is a drift indicator, not an exact position);
- `toy_background_error`: mean |frame - true background| off the true sprites (lower is better; blind to a missing
  sprite).

A range scores the mean over its frames where defined; the aggregate is the mean over videos. The truth comes from
the toy world the video was started from (`toy_truth`), continued by the true physics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lvg.data.toy_world import Truth, true_long_video
from lvg.metrics.base import VideoMetric, as_uint8_frames
from lvg.metrics.toy_drift import background_error, position_error, size_fidelity, sprite_mass_kept


@dataclass
class ToyTruth:
    """The true long video [T, 3, H, W] in [0, 1], its ground truth, and the guide frame's index."""

    frames: torch.Tensor
    truth: Truth
    guide_index: int


def toy_truth(toy_seed: int, num_clips: int, frames_per_clip: int, condition_frames: int, resolution: int) -> ToyTruth:
    """The truth of a toy long video as `lvg generate` starts it (`toy_start` with the same arguments)."""
    frames, truth = true_long_video(toy_seed, num_clips, frames_per_clip, condition_frames, resolution)
    return ToyTruth(frames, truth, condition_frames - 1)


def _float_frames(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(as_uint8_frames(frames))).permute(0, 3, 1, 2).float() / 255


MEASURES = {
    "toy_mass_kept": True,
    "toy_size_fidelity": True,
    "toy_position_error": False,
    "toy_background_error": False,
}


class ToyMeasure(VideoMetric):
    """One toy ground-truth measure; `prepare(frames, truth)` needs the video's `ToyTruth`."""

    source = "toy-world ground truth (weight-free)"
    needs_truth = True

    def __init__(self, name: str) -> None:
        self.name = name
        self.higher_is_better = MEASURES[name]

    def prepare(self, frames: np.ndarray, truth: ToyTruth) -> torch.Tensor:
        """The measure per frame of the video: [F] (NaN where undefined)."""
        x = _float_frames(frames)
        n = min(len(x), len(truth.frames))
        x, true = x[:n], truth.frames[:n]
        if self.name == "toy_mass_kept":
            return sprite_mass_kept(x, truth.frames[truth.guide_index])
        if self.name == "toy_size_fidelity":
            return size_fidelity(x, true)
        if self.name == "toy_position_error":
            return position_error(x, truth.truth.at(slice(0, n)), true)
        return background_error(x, truth.truth.background, truth.truth.sprite_masks[:n])

    def score(self, prepared: torch.Tensor, start: int, end: int) -> float | None:
        values = prepared[start:end]
        values = values[~torch.isnan(values)]
        return float(values.mean()) if len(values) else None

    def compute(self, videos, truths: list[ToyTruth]) -> tuple[float | None, list[float | None]]:
        per_video = [self.score(self.prepare(as_uint8_frames(v), t), 0, len(v)) for v, t in zip(videos, truths)]
        return self.aggregate(per_video, []), per_video


def compute(videos, truths: list[ToyTruth], name: str = "toy_mass_kept") -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of one toy measure over videos with their truths."""
    return ToyMeasure(name).compute(videos, truths)
