"""Splitting a long video into its clips by the sidecar, and variance over noises."""

import pytest

from lvg.errors import LvgError
from lvg.metrics.per_clip import clip_ranges, given_frames, noise_variance_table, variance_stats


def test_clip_ranges_come_from_the_sidecar_records_or_its_sizes():
    recorded = {"frames": 14, "frames_per_clip": 6, "condition_frames": 2, "clips": [
        {"index": i, "frames": [2 + 4 * i, 6 + 4 * i]} for i in range(3)]}  # fmt: skip
    assert clip_ranges(recorded) == [(2, 6), (6, 10), (10, 14)]
    old = {"frames": 14, "frames_per_clip": 6, "clips": [{"index": i} for i in range(3)]}
    assert given_frames(old) == 2
    assert clip_ranges(old) == [(2, 6), (6, 10), (10, 14)]
    with pytest.raises(LvgError, match="do not split"):
        clip_ranges({"frames": 15, "frames_per_clip": 6, "clips": [{}, {}, {}]})


def test_variance_over_noises_per_condition_then_averaged():
    assert variance_stats([0.5, 0.7, None, 0.9]) == pytest.approx(
        {"min": 0.5, "max": 0.9, "range": 0.4, "std": 0.163299, "mean": 0.7, "n": 3}, abs=1e-6
    )
    rows = [{"method": "a", "condition": c, "m": v} for c, vs in [(0, [1.0, 3.0]), (1, [2.0, 2.0])] for v in vs]
    (row,) = noise_variance_table(rows, ["m"])
    assert row["range"] == pytest.approx(1.0) and row["min"] == pytest.approx(1.5) and row["conditions"] == 2
