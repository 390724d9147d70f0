"""Frame encoders for the feature-based metrics, batched: the pretrained ones VBench uses (DINO ViT-B/16 CLS
features, CLIP ViT-B/32 image embeddings, loaded with transformers from a local path or hub id) and weight-free ones
for the toy world and tests (centred pixels; colour histograms). `encoder(frames uint8 [N, H, W, 3]) -> [N, D]`."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lvg.errors import LvgError

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def to_float(frames: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255


def load_pretrained(loader, path: str, what: str):
    """`loader.from_pretrained(path)` with one clear line when the path is missing or not a checkpoint."""
    looks_local = path.startswith((".", "/", "~")) or Path(path).exists()
    if looks_local and not Path(path).expanduser().exists():
        raise LvgError(f"{what} model {path!r} not found: give an existing folder or a hub id available offline")
    try:
        return loader.from_pretrained(str(Path(path).expanduser()) if looks_local else path).eval()
    except (OSError, ValueError) as e:
        raise LvgError(
            f"{what} model {path!r} could not be loaded ({type(e).__name__}): give a folder saved with "
            "save_pretrained or a hub id available offline"
        ) from e


class FrameEncoder:
    """Embeds frames in chunks of `batch_size`; `source` says which model (or weight-free path) it is."""

    source = ""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """float [B, 3, H, W] in [0, 1] -> [B, D]."""
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        n = self.batch_size
        chunks = [self.embed(to_float(frames[i : i + n])) for i in range(0, len(frames), n)]
        return torch.cat(chunks).float().cpu()


class PixelEncoder(FrameEncoder):
    """Weight-free: the frame area-resized to `size` x `size`, minus its mean (cosine = pixel correlation)."""

    def __init__(self, size: int = 32, batch_size: int = 256) -> None:
        super().__init__(batch_size)
        self.size = size
        self.source = f"pixels {size}x{size} (weight-free)"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(self.size, self.size), mode="area").flatten(1)
        return x - x.mean(1, keepdim=True)


class HistogramEncoder(FrameEncoder):
    """Weight-free: the joint RGB histogram (`bins`^3, normalised), a global appearance feature like CLIP's."""

    def __init__(self, bins: int = 4, batch_size: int = 256) -> None:
        super().__init__(batch_size)
        self.bins = bins
        self.source = f"colour histogram {bins}^3 (weight-free)"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        q = (images.clamp(0, 1 - 1e-6) * self.bins).long()
        code = (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]
        hist = torch.stack([torch.bincount(c.flatten(), minlength=self.bins**3) for c in code]).float()
        return hist / hist.sum(1, keepdim=True)


class _PretrainedEncoder(FrameEncoder):
    def __init__(self, model, mean, std, size: int, crop: bool, mode: str, batch_size: int) -> None:
        super().__init__(batch_size)
        self.model = model.requires_grad_(False)
        self.mean, self.std, self.size, self.crop, self.mode = mean, std, size, crop, mode

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Shorter side resized to `size`, centre-cropped to a square if `crop`, normalised (VBench's transforms)."""
        device = next(self.model.parameters()).device
        h, w = images.shape[-2:]
        scale = self.size / min(h, w)
        nh, nw = max(self.size, round(h * scale)), max(self.size, round(w * scale))
        x = F.interpolate(images.to(device), size=(nh, nw), mode=self.mode, align_corners=False).clamp(0, 1)
        if self.crop:
            top, left = (nh - self.size) // 2, (nw - self.size) // 2
            x = x[..., top : top + self.size, left : left + self.size]
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.model.dtype)


class DINOEncoder(_PretrainedEncoder):
    """DINO CLS features (VBench subject consistency: DINO ViT-B/16, e.g. a local facebook/dino-vitb16): the shorter
    side resized to the model's image size, no crop (VBench's `dino_transform`)."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        from transformers import AutoModel

        model = load_pretrained(AutoModel, path, "DINO")
        size = getattr(model.config, "image_size", 224)
        super().__init__(model, IMAGENET_MEAN, IMAGENET_STD, size, False, "bilinear", batch_size)
        self.source = f"dino:{path}"
        self._interpolate = "interpolate_pos_encoding" in inspect.signature(model.forward).parameters

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        kwargs = {"interpolate_pos_encoding": True} if self._interpolate else {}
        return self.model(pixel_values=self.preprocess(images), **kwargs).last_hidden_state[:, 0]


class CLIPEncoder(_PretrainedEncoder):
    """CLIP image embeddings (VBench background consistency: CLIP ViT-B/32; the aesthetic head: ViT-L/14), any
    `CLIPVisionModelWithProjection` path or full CLIP checkpoint: bicubic resize and centre crop (`clip_transform`)."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        from transformers import CLIPVisionModelWithProjection

        model = load_pretrained(CLIPVisionModelWithProjection, path, "CLIP")
        super().__init__(model, CLIP_MEAN, CLIP_STD, model.config.image_size, True, "bicubic", batch_size)
        self.source = f"clip:{path}"

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=self.preprocess(images)).image_embeds
