"""Metrics: toy-world ground-truth drift measures (more in later issues: VBench-style, per-clip curves)."""

from lvg.metrics.toy_drift import (
    background_error,
    color_histogram_distance,
    sprite_color_mass,
    sprite_mass_kept,
)

__all__ = ["background_error", "color_histogram_distance", "sprite_color_mass", "sprite_mass_kept"]
