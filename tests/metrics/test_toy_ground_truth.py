"""Toy ground-truth metrics: the true continuation scores as the truth; damaged frames score worse."""

import numpy as np
import pytest
import torch

from lvg.metrics import toy_ground_truth
from lvg.metrics.toy_ground_truth import ToyMeasure, toy_truth


@pytest.fixture(scope="module")
def truth():
    return toy_truth(toy_seed=3, num_clips=3, frames_per_clip=8, condition_frames=2, resolution=32)


def as_video(frames: torch.Tensor) -> np.ndarray:
    return (frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def test_the_true_video_matches_its_own_truth(truth):
    video = as_video(truth.frames)
    assert len(video) == 2 + 3 * 6
    assert toy_ground_truth.compute([video], [truth], "toy_size_fidelity")[0] == pytest.approx(1.0)
    assert toy_ground_truth.compute([video], [truth], "toy_background_error")[0] < 0.01
    assert toy_ground_truth.compute([video], [truth], "toy_position_error")[0] < 1.5
    assert toy_ground_truth.compute([video], [truth], "toy_mass_kept")[0] > 0.8


def test_a_frozen_or_shifted_video_drifts_from_the_truth(truth):
    video = as_video(truth.frames)
    frozen = np.repeat(video[:1], len(video), axis=0)  # sprites stop: positions drift from the physics
    shifted = np.roll(video, 6, axis=2)
    err = ToyMeasure("toy_position_error")
    assert err.compute([frozen], [truth])[0] > err.compute([video], [truth])[0] + 2
    assert err.compute([shifted], [truth])[0] > err.compute([video], [truth])[0] + 2
    faded = (video * 0.6).astype(np.uint8)  # colours and background off
    for name in ("toy_mass_kept", "toy_size_fidelity"):
        assert ToyMeasure(name).compute([faded], [truth])[0] < ToyMeasure(name).compute([video], [truth])[0] - 0.3
    bg = ToyMeasure("toy_background_error")
    assert bg.compute([faded], [truth])[0] > bg.compute([video], [truth])[0] + 0.05


def test_a_range_scores_the_mean_of_its_frames(truth):
    measure = ToyMeasure("toy_background_error")
    per_frame = measure.prepare(as_video(truth.frames), truth)
    assert measure.score(per_frame, 2, 8) == pytest.approx(float(per_frame[2:8].mean()))
