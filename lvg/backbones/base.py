"""The backbone protocol every method talks to (DESIGN.md, "The backbone protocol")."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Condition:
    """What the model is conditioned on for one clip: text embeddings, and optional condition latents + mask.

    `latents` [B, C, f, h, w] holds the clean condition frames at their positions (zeros elsewhere); `mask` [B, f]
    is 1 on latent frames that are given and 0 on frames to generate (error-free paper, section 3.3).
    """

    text: torch.Tensor
    latents: torch.Tensor | None = None
    mask: torch.Tensor | None = None

    def to(self, device: torch.device, dtype: torch.dtype | None = None) -> Condition:
        def move(x):
            return None if x is None else x.to(device=device, dtype=dtype or x.dtype)

        return Condition(move(self.text), move(self.latents), move(self.mask))

    def repeat(self, n: int) -> Condition:
        """The same condition for a batch n times larger (e.g. search candidates)."""

        def rep(x):
            return None if x is None else x.repeat_interleave(n, dim=0)

        return Condition(rep(self.text), rep(self.latents), rep(self.mask))
