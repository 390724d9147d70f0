"""Every toy measure and every weight-free metric path on the degenerate cases: the toy measures order a true
video, misplaced sprites, a blank background and palette noise as declared; the VBench-style weight-free paths do
not (they measure consistency, and a frozen frame is perfectly consistent), and `lvg evaluate` says so."""

import pytest

from lvg.evaluation.inputs import METRIC_NAMES
from lvg.evaluation.trust import judge_metric
from lvg.metrics.degenerate import EXPECTED, PERSON_ORDER, holds

MODEL_ONLY = ("aesthetic_quality", "imaging_quality")  # no weight-free path: nothing to check here
TOY = [n for n in METRIC_NAMES if n.startswith("toy_")]
WEIGHT_FREE = [n for n in METRIC_NAMES if not n.startswith("toy_") and n not in MODEL_ONLY]


def test_holds_needs_each_group_to_beat_the_next_by_a_margin():
    groups = [["a"], ["b", "c"], ["d"]]
    assert holds({"a": 1.0, "b": 0.5, "c": 0.6, "d": 0.0}, groups, higher_is_better=True)
    assert not holds({"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.0}, groups, higher_is_better=True)  # c ties a
    assert holds({"a": 0.0, "b": 0.5, "c": 0.6, "d": 1.0}, groups, higher_is_better=False)
    assert not holds({"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.5}, groups, higher_is_better=True)  # blind to all


@pytest.mark.parametrize("name", TOY)
def test_each_toy_measure_orders_the_degenerate_cases_as_declared(name):
    result = judge_metric(name)
    assert result["holds"], result["scores"]
    assert result["expected"] == EXPECTED[name]
    best, worst = EXPECTED[name][0], EXPECTED[name][-1]
    assert "true" in best and {"noise", "frozen_noise"} <= set(worst)


@pytest.mark.parametrize("name", WEIGHT_FREE)
def test_the_weight_free_vbench_paths_cannot_judge_a_toy_video(name):
    """Pinned so that a change to one of them is a visible decision: today each scores a frozen noise frame or a
    blank one at least as well as the true video."""
    result = judge_metric(name)
    assert result["expected"] == PERSON_ORDER
    assert not result["holds"], result["scores"]
