"""Subject consistency (VBench): the consistency formula of `lvg.metrics.consistency` on DINO CLS features
(VBench: DINO ViT-B/16). Without a DINO path, the weight-free path scores centred pixels (`PixelEncoder`), which
sees where things are, as DINO's features do. Aggregate: mean over all frame terms of all videos."""

from __future__ import annotations

from lvg.metrics.consistency import ConsistencyMetric
from lvg.metrics.encoders import DINOEncoder, PixelEncoder


class SubjectConsistency(ConsistencyMetric):
    name = "subject_consistency"

    def __init__(self, dino: str | None = None, batch_size: int = 64) -> None:
        super().__init__(DINOEncoder(dino, batch_size) if dino else PixelEncoder())


def compute(videos, dino: str | None = None, batch_size: int = 64) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return SubjectConsistency(dino, batch_size).compute(videos)
