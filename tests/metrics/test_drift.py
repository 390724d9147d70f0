"""Video Drift Error (LV-Bench): the formula on hand values, its undefined cases, and the degenerate-case check
(a steady toy video scores lower than one that decays to blank and then to noise) for every weight-free metric."""

import math

import numpy as np
import pytest

from lvg.evaluation.trust import judge_drift
from lvg.metrics.base import VideoMetric
from lvg.metrics.drift import VideoDriftError, chunk_ranges, video_drift_error


def test_vde_weights_early_drift_most():
    # m = [2, 3, 1]: |3-2|/2 = 0.5 at chunk 2 (weight 2), |1-2|/2 = 0.5 at chunk 3 (weight 1)
    assert video_drift_error([2.0, 3.0, 1.0]) == pytest.approx(2 * 0.5 + 1 * 0.5)
    assert video_drift_error([2.0, 3.0, 1.0], "log") == pytest.approx(math.log(2) * 0.5)
    assert video_drift_error([2.0, 2.0, 2.0]) == 0.0
    assert video_drift_error([-2.0, -1.0]) == pytest.approx(0.5)  # divided by |m_1|
    assert video_drift_error([1.0, 1.5, 1.0]) > video_drift_error([1.0, 1.0, 1.5])  # the same change, earlier


@pytest.mark.parametrize("values", [[1.0], [], [1.0, None, 2.0], [0.0, 1.0]])
def test_vde_is_undefined_without_a_first_chunk_to_compare_with(values):
    assert video_drift_error(values) is None


def test_chunks_are_equal_and_drop_the_remainder():
    assert chunk_ranges(1, 24, 10) == [(1 + 2 * i, 3 + 2 * i) for i in range(10)]
    assert chunk_ranges(0, 9, 10) == []
    with pytest.raises(ValueError, match="weights"):
        video_drift_error([1.0, 2.0], "square")


class FrameMean(VideoMetric):
    name, source = "frame_mean", "test"

    def score(self, prepared, start, end):
        return float(prepared[start:end].mean())


def test_the_drift_metric_scores_its_metric_on_each_chunk():
    frames = np.repeat(np.array([10, 10, 20, 20, 40, 40, 99], np.uint8), 3).reshape(7, 1, 1, 3)
    vde = VideoDriftError(FrameMean(), chunks=3)
    assert vde.name == "vde_frame_mean" and vde.higher_is_better is False
    assert vde.score(frames, 0, 7) == pytest.approx(2 * 1.0 + 1 * 3.0)  # chunks 10, 20, 40; frame 6 dropped
    assert vde.score(frames, 0, 5) is None  # chunks of one frame: below min_frames


@pytest.mark.parametrize(
    "name",
    [
        "toy_mass_kept",
        "toy_size_fidelity",
        "toy_position_error",
        "toy_background_error",
        "subject_consistency",
        "background_consistency",
        "motion_smoothness",
        "temporal_flickering",
        "dynamic_degree",
    ],
)
def test_a_steady_video_drifts_less_than_one_that_decays_to_blank_then_noise(name):
    result = judge_drift(name)
    assert result["holds"], result["scores"]
    assert result["scores"]["decaying"] > result["scores"]["steady"]
