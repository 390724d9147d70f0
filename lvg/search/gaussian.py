"""The plain noise init: seeded Gaussian noise (DESIGN.md axis 2; search strategies implement the same call)."""

from __future__ import annotations

import torch


class GaussianNoise:
    """Starting noise ~ N(0, I) drawn from the clip's own generator, so every clip reproduces alone."""

    def __call__(self, shape: tuple[int, ...], generator: torch.Generator, **_context) -> torch.Tensor:
        return torch.randn(shape, generator=generator)
