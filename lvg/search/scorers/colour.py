"""The embedded default scorer: colour consistency with the guide, a proxy for the toy world (and for videos whose
subjects are saturated colours on a muted background). Not a paper's metric.

It looks for what compounds from clip to clip in the toy world: sprites that fragment, blur, shrink or change colour,
and a background that drifts in tint. Per frame:

    score = guide-colour mass kept - background_weight * background tint change

- guide colours: the guide's saturated pixels (max - min channel, in [0, 1], above `saturation`) grouped greedily,
  densest first, into colours no further than `tolerance` (RGB Euclidean) from their centre, a guide pixel's colour;
- guide-colour mass kept: each pixel within `tolerance` of its nearest guide colour has that colour; a colour's
  sprite is its largest 8-connected component, its other pixels are stray; mass kept = sum over colours of
  (min(frame's sprite, guide's sprite) - frame's stray) / the guide's sprites (`lvg.metrics.toy_drift.mass_kept`),
  so a fragmented, shrunk, blurred or recoloured sprite lowers it, extra colour does not raise it, and noise in the
  guide's colours makes it negative (counting every pixel of a colour, as a first version did, scored palette noise
  as half the mass kept);
- background tint change: L1 distance between the mean colours of the frame's and the guide's unsaturated pixels.

A candidate's score is its worst frame's (the min over frames of eq. 4).

Colours are found in the guide alone (no palette): the score asks whether the guide's own salient colours survive,
with the tolerance the toy world's ground-truth measure uses (lvg.metrics.toy_drift). A first version binned colours
in a fixed 4x4x4 RGB histogram; colours near a bin edge split between bins, and its rank correlation with the
ground truth over candidates was 0.44 (benchmarks/README.md, "k-step noise search").
"""

from __future__ import annotations

import numpy as np
import torch

from lvg.errors import require
from lvg.metrics.toy_drift import ColourBlobs, label_blobs, mass_kept
from lvg.search.scorers.base import Scorer, frames_first


class ColourConsistencyScorer(Scorer):
    """Args:
    saturation: saturation threshold of salient (guide-colour) and background pixels.
    tolerance: RGB distance within which a pixel has a guide colour.
    background_weight: weight of the background tint change.
    max_colours: guide colours kept at most (the densest).
    max_reference_pixels: guide pixels the colours are found among at most (evenly subsampled beyond).
    """

    def __init__(
        self,
        saturation: float = 0.4,
        tolerance: float = 0.3,
        background_weight: float = 1.0,
        max_colours: int = 16,
        max_reference_pixels: int = 1024,
    ) -> None:
        require(0 < saturation < 1, f"saturation threshold must be in (0, 1), got {saturation}")
        require(tolerance > 0, f"tolerance must be positive, got {tolerance}")
        require(max_colours >= 1, f"max_colours must be at least 1, got {max_colours}")
        require(max_reference_pixels >= 1, f"max_reference_pixels must be at least 1, got {max_reference_pixels}")
        self.saturation = saturation
        self.tolerance = tolerance
        self.background_weight = background_weight
        self.max_colours = max_colours
        self.max_reference_pixels = max_reference_pixels

    def guide_colours(self, guide: torch.Tensor) -> torch.Tensor:
        """Guide [3, H, W] in [0, 1] -> its salient colours [K, 3], densest first (K = 0 with no saturated pixel)."""
        pixels = guide.flatten(1).T[self.saturated(guide).flatten()]
        if len(pixels) > self.max_reference_pixels:
            pixels = pixels[torch.linspace(0, len(pixels) - 1, self.max_reference_pixels).long()]
        near = torch.cdist(pixels, pixels) <= self.tolerance
        free = torch.ones(len(pixels), dtype=torch.bool, device=pixels.device)
        centres = []
        while free.any() and len(centres) < self.max_colours:
            density = (near & free[None]).sum(1).masked_fill(~free, -1)
            centre = int(density.argmax())
            centres.append(pixels[centre])
            free &= ~near[centre]
        return torch.stack(centres) if centres else pixels.new_zeros(0, 3)

    def saturated(self, images: torch.Tensor) -> torch.Tensor:
        """Images [..., 3, H, W] in [0, 1] -> saturation above the threshold [..., H, W]."""
        return images.max(dim=-3).values - images.min(dim=-3).values > self.saturation

    def colour_labels(self, images: torch.Tensor, colours: torch.Tensor, chunk: int = 16) -> np.ndarray:
        """Per pixel, the index of its nearest guide colour within `tolerance`, else -1: [B, H, W]. Images go `chunk`
        at a time, so the distances held are [chunk, H * W, K], not the whole batch's."""
        labels = []
        for part in images.split(chunk):
            pixels = part.flatten(2).transpose(1, 2)  # [b, HW, 3]
            best, index = torch.cdist(pixels, colours[None].expand(len(part), -1, -1)).min(dim=2)
            labels.append(index.masked_fill(best > self.tolerance, -1).view(len(part), *part.shape[-2:]).cpu())
        return torch.cat(labels).numpy()

    def blobs(self, images: torch.Tensor, colours: torch.Tensor) -> ColourBlobs:
        """Each guide colour's sprite and stray pixels per image (`lvg.metrics.toy_drift.label_blobs`)."""
        return label_blobs(self.colour_labels(images, colours), len(colours))

    def background_mean(self, images: torch.Tensor) -> torch.Tensor:
        """Mean colour [B, 3] of the unsaturated pixels."""
        background = (~self.saturated(images)).float()[:, None]
        return (images * background).flatten(2).sum(2) / background.flatten(2).sum(2).clamp(min=1)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        n, f = frames.shape[0], frames.shape[2]
        guide = ((guide.float() + 1) / 2).clamp(0, 1)
        images = ((frames_first(frames).float() + 1) / 2).clamp(0, 1)
        colours = self.guide_colours(guide)
        if len(colours):
            kept = mass_kept(self.blobs(images, colours), self.blobs(guide[None], colours).sprite[0])
            kept = kept.to(images.device)
        else:  # nothing salient in the guide: only the background can drift
            kept = torch.ones(len(images), device=images.device)
        tint = (self.background_mean(images) - self.background_mean(guide[None])).abs().sum(1)
        return (kept - self.background_weight * tint).view(n, f).min(dim=1).values
