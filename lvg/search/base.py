"""The noise-init protocol (DESIGN.md axis 2): a strategy gets one clip's context and returns where sampling starts.

A plain strategy returns seeded Gaussian noise; a search may run the sampler on candidates first and return the
winner's noise (sampled again in full) or its partly denoised state (continued, not recomputed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lvg.sampling.scheduler_loop import Denoise, Generators, SamplingState
from lvg.seeding import candidate_seed, generator


@dataclass
class ClipContext:
    """What a noise-init strategy may use for one clip.

    `seed` is the clip's own seed (candidate 0 draws exactly the plain Gaussian noise from it); `make_denoise(n)`
    gives the clip's denoiser for a batch of n samples; `guide` [3, H, W] in [-1, 1] is the frame the clip continues
    from; the method keeps the clip's pixel frames from `keep_from` on (the ones before are the given frames).
    """

    shape: tuple[int, ...]
    seed: int
    clip_index: int
    backbone: object
    sampler: object
    make_denoise: Callable[[int], Denoise]
    guide: torch.Tensor
    keep_from: int = 0


@dataclass
class ClipStart:
    """Where the clip's sampling starts: noise (a tensor) or a partly denoised `SamplingState`, the generator(s) its
    remaining steps draw from, and what the strategy wants logged (the search's candidates, scores, winner, time)."""

    start: torch.Tensor | SamplingState
    generator: Generators
    log: dict | None = field(default=None)


class NoiseInit:
    """A noise-init strategy: `strategy(ctx) -> ClipStart` for each clip."""

    def __call__(self, ctx: ClipContext) -> ClipStart:
        raise NotImplementedError

    def check(self, num_steps: int) -> None:
        """Refuse settings a sampler of `num_steps` steps cannot run (called when the module is built)."""


def candidate_generator(clip_seed: int, candidate: int) -> torch.Generator:
    """Candidate j's own generator (`lvg.seeding.candidate_seed`: candidate 0 is the clip's plain seed, so m = 1 is
    the naive run)."""
    return generator(candidate_seed(clip_seed, candidate))


def draw_noise(ctx: ClipContext, candidate: int = 0) -> tuple[torch.Tensor, torch.Generator]:
    """Candidate `candidate`'s starting noise, and its generator positioned after the draw (for the step noise)."""
    gen = candidate_generator(ctx.seed, candidate)
    return torch.randn(ctx.shape, generator=gen), gen
