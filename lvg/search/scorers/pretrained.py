"""Eq. 4 scorers with pretrained image encoders from transformers, loaded from a local path or hub id:
CLIP image embeddings (the paper's choice, §3.5) and DINO CLS features (as VBench's subject consistency uses)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lvg.metrics.encoders import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, load_pretrained
from lvg.search.scorers.base import EmbeddingScorer


def _processor_stats(path: str, mean, std, size: int) -> tuple[tuple, tuple, int]:
    """Normalisation and input size from the checkpoint's image processor config where it has one."""
    try:
        from transformers import AutoImageProcessor

        proc = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError):
        return mean, std, size
    crop = getattr(proc, "crop_size", None) or {}
    size = crop.get("height", size) if isinstance(crop, dict) else size
    return tuple(proc.image_mean), tuple(proc.image_std), int(size)


class _PretrainedScorer(EmbeddingScorer):
    def __init__(self, model, path: str, mean, std, size: int, batch_size: int) -> None:
        super().__init__(batch_size)
        self.model = model.eval().requires_grad_(False)
        self.mean, self.std, self.size = _processor_stats(path, mean, std, size)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images -> encoder input: shortest side resized to `size` (bicubic), centre crop, normalised."""
        device = next(self.model.parameters()).device
        x = ((images.float().to(device) + 1) / 2).clamp(0, 1)
        h, w = x.shape[-2:]
        scale = self.size / min(h, w)
        nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
        top, left = (nh - self.size) // 2, (nw - self.size) // 2
        x = x[..., top : top + self.size, left : left + self.size]
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.model.dtype)


class CLIPScorer(_PretrainedScorer):
    """Eq. 4: min over frames of cos(CLIP(guide), CLIP(frame)), with `CLIPVisionModelWithProjection` image
    embeddings (e.g. openai/clip-vit-large-patch14, or a local copy)."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        from transformers import CLIPVisionModelWithProjection

        model = load_pretrained(CLIPVisionModelWithProjection, path, "CLIP scorer")
        super().__init__(model, path, CLIP_MEAN, CLIP_STD, model.config.image_size, batch_size)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=self.preprocess(images)).image_embeds.float()


class DINOScorer(_PretrainedScorer):
    """Eq. 4 with DINO CLS features instead of CLIP (VBench subject consistency's encoder; e.g. a local
    facebook/dino-vitb16 or facebook/dinov2-base)."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        from transformers import AutoModel

        model = load_pretrained(AutoModel, path, "DINO scorer")
        super().__init__(
            model, path, IMAGENET_MEAN, IMAGENET_STD, getattr(model.config, "image_size", 224), batch_size
        )

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=self.preprocess(images)).last_hidden_state[:, 0].float()
