"""Per-frame toy drift curves: the true video scores as the truth, a washed-out one drifts."""

import numpy as np
import pytest

from lvg.data.toy_world import true_long_video
from lvg.errors import LvgError
from lvg.metrics.toy_curves import CURVES, segment_means, toy_frame_curves


def _true_video(seed=3, clips=3, frames=6, c=2, res=16):
    video, _ = true_long_video(seed, clips, frames, c, res)
    uint8 = (video.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    sidecar = {"start": {"toy_seed": seed}, "clips": [{}] * clips, "frames_per_clip": frames, "height": res,
               "condition_frames": c}  # fmt: skip
    return uint8, sidecar


def test_true_video_has_no_background_error_and_washed_out_video_drifts():
    video, sidecar = _true_video()
    true = toy_frame_curves(video, sidecar)
    assert set(true) == set(CURVES) and all(len(v) == len(video) - 2 for v in true.values())
    assert true["background_error"].max() < 0.01
    washed = (video.astype(np.float32) * 0.5 + 64).astype(np.uint8)  # a greyed copy: sprites lose their colours
    drift = toy_frame_curves(washed, sidecar)
    assert drift["mass_kept"].mean() < true["mass_kept"].mean() - 0.3
    assert drift["histogram_distance"].mean() > true["histogram_distance"].mean() + 0.1


def test_curves_need_a_toy_start_and_segments_average():
    video, sidecar = _true_video()
    with pytest.raises(LvgError, match="toy world"):
        toy_frame_curves(video, {**sidecar, "start": {"guide": "a.png"}})
    assert segment_means(np.arange(7.0), 3).tolist() == [1.0, 4.0]
