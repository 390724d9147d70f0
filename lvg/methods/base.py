"""The context-method interface (DESIGN.md axis 1): a training objective and a clip-by-clip generation loop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from lvg.sampling.scheduler_loop import StepCallback


@dataclass
class GenerationRequest:
    """What one long video is generated from. `start` [1, 3, c, H, W] in [-1, 1] are the given first frames (a guide
    image is c = 1); `prompts` has one entry per clip.

    Resuming: a method sets `carry` after each clip to what the next clip continues from; a request with
    `first_clip = k` and that `carry` generates clips k, k+1, ... exactly as an uninterrupted run would."""

    start: torch.Tensor
    prompts: list[str]
    frames_per_clip: int
    seed: int = 0
    on_step: StepCallback | None = field(default=None, repr=False)
    first_clip: int = 0
    carry: torch.Tensor | None = field(default=None, repr=False)

    @property
    def num_clips(self) -> int:
        return len(self.prompts)


def clip_generator(seed: int, clip_index: int) -> torch.Generator:
    """Each clip draws from its own generator, so any clip can be regenerated (and a run resumed) alone."""
    return torch.Generator().manual_seed(seed * 1_000_003 + clip_index)


class Method:
    """Context method: `loss` for training, `generate` yields each clip's new frames [3, n, H, W] in [-1, 1]."""

    def loss(self, backbone, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generate(self, backbone, sampler, noise_init, request: GenerationRequest) -> Iterator[torch.Tensor]:
        raise NotImplementedError
