"""The plain noise init: seeded Gaussian noise (the naive chunk-by-chunk baseline)."""

from __future__ import annotations

from lvg.search.base import ClipContext, ClipStart, NoiseInit, draw_noise


class GaussianNoise(NoiseInit):
    """Starting noise ~ N(0, I) drawn from the clip's own generator, so every clip reproduces alone."""

    def __call__(self, ctx: ClipContext) -> ClipStart:
        noise, generator = draw_noise(ctx)
        return ClipStart(noise, generator)
