"""Metrics: VBench-style measures (one file each, `compute(...) -> (aggregate, per_video)`, aggregation in each
docstring), toy-world ground-truth drift, per-clip splitting and variance over noises.

Each metric is a `lvg.metrics.base.VideoMetric`: `prepare` once per video (batched features, flows), `score` any
frame range, so per-clip curves of a long video cost no second pass. `source` says which model or weight-free path
produced the numbers.
"""

from lvg.metrics.toy_drift import (
    background_error,
    color_histogram_distance,
    position_error,
    sprite_color_mass,
    sprite_mass_kept,
)

__all__ = ["background_error", "color_histogram_distance", "position_error", "sprite_color_mass", "sprite_mass_kept"]
