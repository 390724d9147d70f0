"""VBench-style metrics on synthetic videos with known answers, weight-free and through tiny random encoders."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.synthetic import jittery_sprite, linear_sprite, shuffled, static_video

from lvg.errors import LvgError
from lvg.metrics import (
    aesthetic_quality,
    background_consistency,
    dynamic_degree,
    i2v_similarity,
    imaging_quality,
    motion_smoothness,
    subject_consistency,
    temporal_flickering,
)
from lvg.metrics.encoders import CLIPEncoder, DINOEncoder


def test_a_static_video_does_not_flicker_move_or_change():
    video = static_video()
    assert temporal_flickering.compute([video])[0] == 1.0
    assert dynamic_degree.compute([video])[0] == 0.0
    assert motion_smoothness.compute([video])[0] == 1.0
    assert subject_consistency.compute([video])[0] == pytest.approx(1.0, abs=1e-6)
    assert background_consistency.compute([video])[0] == pytest.approx(1.0, abs=1e-6)


def test_flickering_is_255_minus_the_mean_absolute_frame_difference():
    video = static_video(frames=3)
    video[1] = np.clip(video[1].astype(int) + 51, 0, 255)  # frame 1 brighter by 51 wherever it can be
    diffs = [np.abs(video[t + 1].astype(int) - video[t].astype(int)).mean() for t in range(2)]
    assert temporal_flickering.compute([video])[0] == pytest.approx((255 - np.mean(diffs)) / 255)


def test_a_moving_sprite_is_dynamic():
    aggregate, per_video = dynamic_degree.compute([linear_sprite(speed=1.5), static_video()])
    assert per_video == [1.0, 0.0]
    assert aggregate == 0.5


@pytest.mark.parametrize("metric", [subject_consistency, background_consistency])
def test_a_shuffled_video_is_less_consistent_than_the_original(metric):
    video = linear_sprite(speed=1.0, tint=1.0)
    original = metric.compute([video])[0]
    for seed in range(3):
        assert metric.compute([shuffled(video, seed)])[0] < original - 0.005


def test_a_linearly_moving_sprite_is_smooth():
    smooth = motion_smoothness.compute([linear_sprite(speed=1.0)])[0]
    jumpy = motion_smoothness.compute([jittery_sprite()])[0]
    assert smooth > 0.98
    assert smooth > jumpy + 0.02


def test_motion_smoothness_interpolators_are_pluggable():
    video = linear_sprite(speed=1.0)
    assert motion_smoothness.compute([video], interpolator=_Oracle(video))[0] == 1.0  # exact middles: no error
    blend = motion_smoothness.MotionSmoothness("blend")
    assert blend.source.startswith("blend") and blend.compute([video])[0] < 1.0
    by_path = motion_smoothness.MotionSmoothness("lvg.metrics.interpolators:BlendInterpolator")
    assert by_path.compute([video]) == blend.compute([video])
    with pytest.raises(LvgError, match="unknown interpolator"):
        motion_smoothness.MotionSmoothness("no_such_module:thing")


class _Oracle:
    """An interpolator that knows the true middle frame (found by its neighbours)."""

    def __init__(self, video):
        self.video = video

    def __call__(self, a, b):
        v = self.video
        return next(v[i] for i in range(1, len(v) - 1) if (v[i - 1] == a).all() and (v[i + 1] == b).all())


def test_consistency_aggregates_over_frames_and_videos_over_videos():
    short, long = static_video(frames=3), linear_sprite(frames=12, speed=1.0)
    aggregate, (a, b) = subject_consistency.compute([short, long])
    assert aggregate == pytest.approx((a * 2 + b * 11) / 13)
    aggregate, (a, b) = temporal_flickering.compute([short, long])
    assert aggregate == pytest.approx((a + b) / 2)


def test_i2v_similarity_to_the_input_image():
    """An image that is not in the video scores lower than one that is. (Two frames of the video both score
    0.5 + 0.5 x the mean consecutive similarity by construction, so they cannot be ordered.)"""
    video = linear_sprite(speed=1.0)
    elsewhere = np.roll(video[0], video.shape[2] // 2, axis=(0, 1))  # the sprite where the video never shows it
    in_video, not_in_video = i2v_similarity.compute([video, video], images=[video[0], elsewhere])[1]
    assert in_video > not_in_video + 0.05
    assert i2v_similarity.compute([static_video()], images=[static_video()[0]])[0] == pytest.approx(1.0, abs=1e-6)


def test_dino_and_clip_consistency_follow_vbench_formula(tiny_dino_encoder, tiny_clip_encoder):
    video = linear_sprite(frames=6, speed=1.5)
    for module, encoder, kwargs in [
        (subject_consistency, DINOEncoder(tiny_dino_encoder), {"dino": tiny_dino_encoder}),
        (background_consistency, CLIPEncoder(tiny_clip_encoder), {"clip": tiny_clip_encoder}),
    ]:
        f = F.normalize(encoder(video), dim=-1)
        expected = np.mean([(max(0, f[t] @ f[t - 1]) + max(0, f[t] @ f[0])) / 2 for t in range(1, 6)])
        assert module.compute([video], **kwargs)[0] == pytest.approx(float(expected), abs=1e-5)
        assert module.compute([static_video()], **kwargs)[0] == pytest.approx(1.0, abs=1e-5)


def test_a_missing_model_path_is_one_clear_error(tmp_path):
    with pytest.raises(LvgError, match="not found"):
        subject_consistency.SubjectConsistency(dino=str(tmp_path / "nope"))
    with pytest.raises(LvgError, match="not found"):
        imaging_quality.ImagingQuality(str(tmp_path / "musiq.pt"))


def test_aesthetic_quality_is_the_laion_head_on_normalised_clip_embeddings(tiny_clip_encoder, tmp_path):
    from helpers.tiny_encoders import save_aesthetic_head

    head_path = save_aesthetic_head(tmp_path / "head.pth")
    video = linear_sprite(frames=4)
    head = torch.nn.Linear(16, 1)
    head.load_state_dict(torch.load(head_path))
    emb = F.normalize(CLIPEncoder(tiny_clip_encoder)(video), dim=-1)
    expected = float(head(emb).mean().detach() / 10)
    score = aesthetic_quality.compute([video], tiny_clip_encoder, str(head_path))[0]
    assert score == pytest.approx(expected, abs=1e-5)
    torch.save(torch.nn.Linear(8, 1).state_dict(), tmp_path / "wrong.pth")
    with pytest.raises(LvgError, match="Linear"):
        aesthetic_quality.AestheticQuality(tiny_clip_encoder, str(tmp_path / "wrong.pth"))


def test_imaging_quality_is_the_model_score_over_100(tmp_path):
    from helpers.tiny_encoders import save_tiny_quality

    model = save_tiny_quality(tmp_path / "quality.pt")
    video = static_video(frames=2)
    assert imaging_quality.compute([video], str(model))[0] == pytest.approx(video.mean() / 255, abs=1e-5)
