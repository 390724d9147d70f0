"""Which metrics `lvg evaluate` runs and from which models: each is built from the paths given, or skipped with a
note (a model-only metric without its model, a path that does not load)."""

from __future__ import annotations

from dataclasses import dataclass

from lvg.errors import LvgError
from lvg.evaluation.inputs import METRIC_NAMES
from lvg.metrics.aesthetic_quality import AestheticQuality
from lvg.metrics.background_consistency import BackgroundConsistency
from lvg.metrics.dynamic_degree import DynamicDegree
from lvg.metrics.i2v_similarity import I2VSimilarity
from lvg.metrics.imaging_quality import ImagingQuality
from lvg.metrics.motion_smoothness import MotionSmoothness
from lvg.metrics.subject_consistency import SubjectConsistency
from lvg.metrics.temporal_flickering import TemporalFlickering
from lvg.metrics.toy_ground_truth import ToyMeasure


@dataclass
class Models:
    """Model paths or hub ids; None takes the weight-free path where there is one."""

    dino: str | None = None
    clip: str | None = None
    raft: str | None = None
    interpolator: str = "farneback"
    aesthetic_clip: str | None = None
    aesthetic_head: str | None = None
    imaging: str | None = None
    batch_size: int = 64


def _build(name: str, m: Models):
    if name == "subject_consistency":
        return SubjectConsistency(m.dino, m.batch_size)
    if name == "background_consistency":
        return BackgroundConsistency(m.clip, m.batch_size)
    if name == "temporal_flickering":
        return TemporalFlickering()
    if name == "motion_smoothness":
        return MotionSmoothness(m.interpolator)
    if name == "dynamic_degree":
        return DynamicDegree(m.raft)
    if name == "aesthetic_quality":
        if not (m.aesthetic_clip and m.aesthetic_head):
            raise LvgError("no model given: needs --aesthetic_clip (CLIP ViT-L/14) and --aesthetic_head (LAION .pth)")
        return AestheticQuality(m.aesthetic_clip, m.aesthetic_head, m.batch_size)
    if name == "imaging_quality":
        if not m.imaging:
            raise LvgError("no model given: needs --imaging (MUSIQ as TorchScript, or a .pth with pyiqa)")
        return ImagingQuality(m.imaging)
    if name == "i2v_subject":
        return I2VSimilarity("subject", m.dino, m.batch_size)
    if name == "i2v_background":
        return I2VSimilarity("background", m.clip, m.batch_size)
    return ToyMeasure(name)


def build_metrics(names: list[str] | None, models: Models) -> tuple[list, list[dict]]:
    """The metrics to run (all by default) and the ones skipped, each with its reason."""
    chosen = list(METRIC_NAMES) if not names else list(names)
    unknown = [n for n in chosen if n not in METRIC_NAMES]
    if unknown:
        raise LvgError(f"unknown metrics {unknown}: choose from {', '.join(METRIC_NAMES)}")
    metrics, skipped = [], []
    for name in chosen:
        try:
            metrics.append(_build(name, models))
        except LvgError as e:
            skipped.append({"metric": name, "reason": str(e)})
    return metrics, skipped
