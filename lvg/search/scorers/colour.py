"""The embedded default scorer: colour consistency with the guide, a proxy for the toy world (and for videos whose
subjects are saturated colours on a muted background). Not a paper's metric.

It looks for what compounds from clip to clip in the toy world: sprites that fragment, blur, shrink or change colour
(their saturated pixels leave the guide's colour bins), and a background that drifts in tint. A naive proxy (cosine
of mean-centred 8x8 pixels) is dominated by the background and ranked candidates against sprite quality; this one
separates the two on purpose. Per frame:

    score = foreground colour mass kept - background_weight * background tint change

- foreground: pixels with saturation (max - min channel, in [0, 1]) above `saturation`; their colours are binned in
  a `bins`^3 RGB histogram; mass kept = sum over bins of min(frame, guide) / guide's total (histogram intersection,
  so extra or spread colour does not raise it);
- background tint change: L1 distance between the mean colours of the frame's and the guide's other pixels.

A candidate's score is its worst frame's (the min over frames of eq. 4).
"""

from __future__ import annotations

import torch

from lvg.errors import require
from lvg.search.scorers.base import Scorer, frames_first


class ColourConsistencyScorer(Scorer):
    def __init__(self, saturation: float = 0.4, bins: int = 4, background_weight: float = 1.0) -> None:
        require(0 < saturation < 1, f"saturation threshold must be in (0, 1), got {saturation}")
        require(bins >= 2, f"bins must be at least 2, got {bins}")
        self.saturation = saturation
        self.bins = bins
        self.background_weight = background_weight

    def colour_stats(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [B, 3, H, W] in [-1, 1] -> foreground colour histograms [B, bins^3] (pixel counts) and background
        mean colours [B, 3]."""
        x = ((images.float() + 1) / 2).clamp(0, 1 - 1e-6)
        sat = x.max(dim=1).values - x.min(dim=1).values  # [B, H, W]
        fg = (sat > self.saturation).float()
        q = (x * self.bins).long()
        code = (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]  # [B, H, W]
        hist = torch.zeros(x.shape[0], self.bins**3, device=x.device)
        hist.scatter_add_(1, code.flatten(1), fg.flatten(1))
        bg = 1 - fg
        bg_mean = (x * bg[:, None]).flatten(2).sum(2) / bg.flatten(1).sum(1, keepdim=True).clamp(min=1)
        return hist, bg_mean

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        n, f = frames.shape[0], frames.shape[2]
        hist, bg = self.colour_stats(torch.cat([guide[None], frames_first(frames)]))
        kept = torch.minimum(hist[1:], hist[:1]).sum(1) / hist[0].sum().clamp(min=1)
        tint = (bg[1:] - bg[:1]).abs().sum(1)
        return (kept - self.background_weight * tint).view(n, f).min(dim=1).values
