"""Which of `lvg evaluate`'s weight-free metric paths can judge a toy video: each is scored on the degenerate cases
of `lvg.metrics.degenerate` (true, misplaced sprites, blank, palette noise, frozen noise) when a report includes toy
videos, and the report says plainly which fail (their numbers stay, marked)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from lvg.evaluation.metric_set import Models, build_metrics
from lvg.metrics.degenerate import EXPECTED, judge
from lvg.metrics.toy_ground_truth import ToyTruth

CANNOT_JUDGE = (
    "cannot judge a toy video: on the degenerate cases (lvg.metrics.degenerate) it scores a blank or frozen-noise "
    "video at least as well as the true one"
)


def _uint8(frames: torch.Tensor) -> np.ndarray:
    return (frames.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


@lru_cache(maxsize=32)
def judge_metric(name: str) -> dict:
    """The degenerate-case check of metric `name` on its weight-free path: {scores, expected, holds}. Toy measures
    are held to the order they declare (`EXPECTED`: what each is blind to), the others to a person's order."""
    metric = build_metrics([name], Models())[0][0]
    if getattr(metric, "needs_truth", False):

        def score(frames, cases):
            truth = ToyTruth(cases.videos["true"], cases.truth, 0)
            return metric.score(metric.prepare(_uint8(frames), truth), 0, len(frames))

        return judge(score, metric.higher_is_better, EXPECTED[name])

    def score(frames, cases):
        video = _uint8(frames)
        return metric.score(metric.prepare(video), 0, len(video))

    return judge(score, metric.higher_is_better)


def mark_toy_trust(report_metrics: dict, metrics: list) -> None:
    """Add `judges_toy_video` (and the check's scores) to each weight-free metric's entry of a report that scores
    toy videos; a model-based path is not checked here (no weights), and says so."""
    for metric in metrics:
        entry = report_metrics[metric.name]
        if "weight-free" not in metric.source:
            entry["toy_check"] = "not checked: a model-based path (the degenerate-case check runs weight-free paths)"
            continue
        result = judge_metric(metric.name)
        entry["judges_toy_video"] = result["holds"]
        entry["toy_check"] = {"scores": result["scores"], "expected": result["expected"]}
        if not result["holds"]:
            entry["note"] = CANNOT_JUDGE
