"""The evaluator f of Algorithm 1: `scorer(frames [N, 3, F, H, W], guide [3, H, W]) -> scores [N]`, higher is
better, pixels in [-1, 1]. Eq. 4 scores a candidate by its worst frame: the minimum over frames of a similarity to
the guide image."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Scorer:
    """Scores candidate clips against the guide image (higher is better)."""

    def __call__(self, frames: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def frames_first(frames: torch.Tensor) -> torch.Tensor:
    """[N, 3, F, H, W] -> [N * F, 3, H, W] (candidate-major)."""
    n, c, f, h, w = frames.shape
    return frames.permute(0, 2, 1, 3, 4).reshape(n * f, c, h, w)


class EmbeddingScorer(Scorer):
    """Eq. 4 with an image encoder E: min over frames j of cos(E(guide), E(V[j])). All frames of all candidates go
    through the encoder together, in chunks of `batch_size` images."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Images [B, 3, H, W] in [-1, 1] -> embeddings [B, D]."""
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        n, f = frames.shape[0], frames.shape[2]
        images = torch.cat([guide[None], frames_first(frames)])
        emb = torch.cat([self.embed(chunk) for chunk in images.split(self.batch_size)])
        cos = F.cosine_similarity(emb[1:], emb[:1], dim=-1).view(n, f)
        return cos.min(dim=1).values
