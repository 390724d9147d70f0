"""Background consistency (VBench): the consistency formula of `lvg.metrics.consistency` on CLIP image embeddings
(VBench: CLIP ViT-B/32). Without a CLIP path, the weight-free path scores joint colour histograms
(`HistogramEncoder`), a global appearance feature blind to where things are. Aggregate: mean over all frame terms
of all videos."""

from __future__ import annotations

from lvg.metrics.consistency import ConsistencyMetric
from lvg.metrics.encoders import CLIPEncoder, HistogramEncoder


class BackgroundConsistency(ConsistencyMetric):
    name = "background_consistency"

    def __init__(self, clip: str | None = None, batch_size: int = 64) -> None:
        super().__init__(CLIPEncoder(clip, batch_size) if clip else HistogramEncoder())


def compute(videos, clip: str | None = None, batch_size: int = 64) -> tuple[float | None, list[float | None]]:
    """(aggregate, per_video) of uint8 [F, H, W, 3] videos (or lvg clip tensors)."""
    return BackgroundConsistency(clip, batch_size).compute(videos)
