"""Which of `lvg evaluate`'s weight-free metric paths can judge a toy video: each is scored on the degenerate cases
of `lvg.metrics.degenerate` (true, misplaced sprites, blank, palette noise, frozen noise) when a report includes toy
videos, and the report says plainly which fail (their numbers stay, marked)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from lvg.evaluation.metric_set import Models, build_metrics
from lvg.metrics.degenerate import EXPECTED, degenerate_videos, holds, judge
from lvg.metrics.drift import VideoDriftError
from lvg.metrics.toy_ground_truth import ToyTruth

CANNOT_JUDGE = (
    "cannot judge a toy video: on the degenerate cases (lvg.metrics.degenerate) it scores a blank or frozen-noise "
    "video at least as well as the true one"
)

CANNOT_JUDGE_DRIFT = (
    "cannot judge drift in a toy video: a steady true video does not score lower than one that decays to a blank "
    "background and then to noise (lvg.evaluation.trust.judge_drift)"
)
DRIFT_FRAMES = 4  # frames per chunk of the drift check's videos


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
        if isinstance(metric, VideoDriftError):
            result, cannot = judge_drift(metric.inner.name, metric.chunks, metric.weights), CANNOT_JUDGE_DRIFT
        else:
            result, cannot = judge_metric(metric.name), CANNOT_JUDGE
        entry["judges_toy_video"] = result["holds"]
        entry["toy_check"] = {"scores": result["scores"], "expected": result["expected"]}
        if not result["holds"]:
            entry["note"] = cannot


@lru_cache(maxsize=32)
def judge_drift(name: str, chunks: int = 10, weights: str = "linear") -> dict:
    """The degenerate-case check of `vde_<name>` (a drift measure): a steady video (the true toy video throughout)
    must score lower than a decaying one (true for its first 40%, then the blank background, then palette noise
    for its last 30%). Being relative to the first chunk, VDE is blind to how good that chunk is: frozen noise
    throughout scores as steady, which is what it is (`expected` says so)."""
    metric = VideoDriftError(build_metrics([name], Models())[0][0], chunks, weights)
    frames = chunks * DRIFT_FRAMES
    cases = degenerate_videos(frames=frames)
    videos = cases.videos
    decay_at, noise_at = round(0.4 * frames), round(0.7 * frames)
    decaying = torch.cat([videos["true"][:decay_at], videos["blank"][decay_at:noise_at], videos["noise"][noise_at:]])
    shown = {"steady": videos["true"], "decaying": decaying}
    truth = ToyTruth(videos["true"], cases.truth, 0) if metric.needs_truth else None
    scores = {}
    for case, video in shown.items():
        prepared = metric.prepare(_uint8(video), truth) if truth is not None else metric.prepare(_uint8(video))
        scores[case] = metric.score(prepared, 0, frames)
    expected = [["steady"], ["decaying"]]
    if None in scores.values():  # no relative change defined (the first chunk scores 0): it cannot judge
        return {"scores": scores, "expected": expected, "holds": False}
    return {"scores": scores, "expected": expected, "holds": holds(scores, expected, metric.higher_is_better)}
