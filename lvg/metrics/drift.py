"""Video Drift Error (LV-Bench, BlockVid: Chen et al. 2025): how far a per-chunk metric moves from its value on
the video's first chunk.

The video is split into `chunks` equal chunks (10 in LV-Bench; the last frames that do not fill a chunk are
dropped), a metric m is scored on each, and

    VDE = sum_{i=2..N} w_i |m_i - m_1| / |m_1|,   w_i = N - i + 1 (`linear`) or log(N - i + 1) (`log`),

a weighted mean absolute percentage error against the first chunk in which early drift weighs most (LV-Bench sums
the weighted terms without normalising; lvg does the same, so values compare with LV-Bench's). Lower is better; 0
is a video whose metric never moves. LV-Bench divides by the signed m_1; lvg by |m_1|, which differs only for
metrics that can be negative (the toy mass kept).
"""

from __future__ import annotations

import math

from lvg.metrics.base import VideoMetric

WEIGHTS = ("linear", "log")


def chunk_ranges(start: int, end: int, chunks: int) -> list[tuple[int, int]]:
    """`chunks` equal [start, end) ranges over frames start..end (the remainder dropped; [] if a chunk is empty)."""
    size = (end - start) // chunks
    return [(start + i * size, start + (i + 1) * size) for i in range(chunks)] if size > 0 else []


def video_drift_error(values: list[float | None], weights: str = "linear") -> float | None:
    """VDE of per-chunk metric values (module doc); None when a value is missing, there are fewer than 2, or the
    first chunk's value is 0 (no relative change is defined)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
    n = len(values)
    if n < 2 or any(v is None for v in values) or values[0] == 0:
        return None
    first = abs(values[0])
    terms = []
    for i in range(2, n + 1):
        w = n - i + 1 if weights == "linear" else math.log(n - i + 1)
        terms.append(w * abs(values[i - 1] - values[0]) / first)
    return float(sum(terms))


class VideoDriftError(VideoMetric):
    """The VDE of another metric (`metric`) over `chunks` chunks of the scored frames; its name is `vde_<name>`.

    It scores ranges with at least `min_frames` frames per chunk (None below: a per-clip range of a short clip)."""

    higher_is_better = False

    def __init__(self, metric: VideoMetric, chunks: int = 10, weights: str = "linear", min_frames: int = 2) -> None:
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, not {weights!r}")
        self.inner, self.chunks, self.weights, self.min_frames = metric, chunks, weights, min_frames
        self.name = f"vde_{metric.name}"
        self.source = f"{metric.source}; VDE over {chunks} chunks ({weights} weights, LV-Bench)"
        self.needs_truth = getattr(metric, "needs_truth", False)

    def prepare(self, frames, *args, **kwargs):
        return self.inner.prepare(frames, *args, **kwargs)

    def score(self, prepared, start: int, end: int) -> float | None:
        ranges = chunk_ranges(start, end, self.chunks)
        if not ranges or ranges[0][1] - ranges[0][0] < self.min_frames:
            return None
        return video_drift_error([self.inner.score(prepared, s, e) for s, e in ranges], self.weights)
