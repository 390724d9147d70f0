"""The noise-init protocol (DESIGN.md axis 2): a strategy gets one clip's context and returns where sampling starts.

A plain strategy returns seeded Gaussian noise; a search may run the sampler on candidates first and return the
winner's noise (sampled again in full) or its partly denoised state (continued, not recomputed).
"""

from __future__ import annotations

import torch

from lvg.contracts import ClipContext, ClipStart, Parts
from lvg.seeding import candidate_seed, generator

__all__ = ["ClipContext", "ClipStart", "NoiseInit", "candidate_generator", "draw_noise"]


class NoiseInit:
    """A noise-init strategy (`lvg.contracts.NoiseInit`): `strategy(ctx) -> ClipStart` for each clip."""

    def __call__(self, ctx: ClipContext) -> ClipStart:
        raise NotImplementedError

    def check(self, parts: Parts) -> None:
        """Refuse parts this strategy cannot work with (called when the module is built); plain noise takes any."""


def candidate_generator(clip_seed: int, candidate: int) -> torch.Generator:
    """Candidate j's own generator (`lvg.seeding.candidate_seed`: candidate 0 is the clip's plain seed, so m = 1 is
    the naive run)."""
    return generator(candidate_seed(clip_seed, candidate))


def draw_noise(ctx: ClipContext, candidate: int = 0) -> tuple[torch.Tensor, torch.Generator]:
    """Candidate `candidate`'s starting noise, and its generator positioned after the draw (for the step noise)."""
    gen = candidate_generator(ctx.seed, candidate)
    return torch.randn(ctx.shape, generator=gen), gen
