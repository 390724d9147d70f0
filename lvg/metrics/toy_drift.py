"""Toy-world ground-truth drift measures, per frame. Frames are float RGB [F, 3, H, W] in [0, 1].

One definition used everywhere (README curves, tests, notebooks):
- sprite-colour mass: per palette colour, the number of pixels within `tol` (RGB Euclidean) of that colour;
- sprite mass kept: sum over colours of min(mass in frame, mass in reference) / total mass in reference, so
  fragmenting, blurring, shrinking or recolouring a sprite all lower it, and extra sprites do not raise it;
- position error: per sprite colour found and truly present, the distance in pixels between the centroid of that
  colour's pixels and the true sprite centre, mean over colours (NaN where none is found);
- background error: mean |frame - true background| over pixels that no palette colour claims;
- colour-histogram distance: half the L1 distance between normalised 4x4x4 RGB histograms, in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch

from lvg.data.toy_world import PALETTE, Truth

COLOR_INDEX = {name: i for i, name in enumerate(PALETTE)}
PALETTE_RGB = torch.tensor(list(PALETTE.values()), dtype=torch.float32)  # [K, 3]


def _as_frames(frames) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).float()
    return x[None] if x.ndim == 3 else x


def palette_labels(frames, tol: float = 0.3) -> torch.Tensor:
    """Per pixel, the index of the palette colour within `tol`, or -1: [F, H, W]."""
    x = _as_frames(frames)
    dist = torch.linalg.vector_norm(x[:, None] - PALETTE_RGB[None, :, :, None, None], dim=2)  # [F, K, H, W]
    best, idx = dist.min(dim=1)
    return torch.where(best <= tol, idx, torch.full_like(idx, -1))


def sprite_color_mass(frames, tol: float = 0.3) -> torch.Tensor:
    """Pixels of each palette colour per frame: [F, K]."""
    labels = palette_labels(frames, tol)
    k = len(PALETTE_RGB)
    return torch.stack([(labels == i).flatten(1).sum(1) for i in range(k)], dim=1).float()


def sprite_mass_kept(frames, reference, tol: float = 0.3) -> torch.Tensor:
    """Share of the reference frame's sprite-colour mass still present, per frame: [F] in [0, 1]."""
    mass = sprite_color_mass(frames, tol)
    ref = sprite_color_mass(reference, tol)[0]
    return torch.minimum(mass, ref[None]).sum(1) / ref.sum().clamp(min=1)


def background_error(frames, background, tol: float = 0.3) -> torch.Tensor:
    """Mean absolute error to the true background [3, H, W] over pixels no palette colour claims: [F]."""
    x = _as_frames(frames)
    bg = torch.as_tensor(np.asarray(background)).float()
    free = (palette_labels(x, tol) < 0).float()[:, None]  # [F, 1, H, W]
    err = ((x - bg[None]).abs() * free).flatten(1).sum(1)
    return err / (3 * free.flatten(1).sum(1)).clamp(min=1)


def color_histogram(frames, bins: int = 4) -> torch.Tensor:
    """Normalised joint RGB histogram per frame: [F, bins**3]."""
    x = _as_frames(frames).clamp(0, 1 - 1e-6)
    q = (x * bins).long()
    code = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    hist = torch.stack([torch.bincount(c.flatten(), minlength=bins**3) for c in code]).float()
    return hist / hist.sum(1, keepdim=True)


def color_histogram_distance(frames, reference, bins: int = 4) -> torch.Tensor:
    """Half L1 distance of each frame's colour histogram to the reference frame's: [F] in [0, 1]."""
    return 0.5 * (color_histogram(frames, bins) - color_histogram(reference, bins)).abs().sum(1)


def position_error(frames: torch.Tensor, truth: Truth) -> torch.Tensor:
    """Per frame, mean centroid distance (pixels) over sprite colours found and truly present; NaN if none: [F]."""
    labels = palette_labels(frames)
    h, w = labels.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    out = torch.full((len(frames),), float("nan"))
    for t in range(len(frames)):
        errors = []
        for k, color in enumerate(truth.colors):
            mask = labels[t] == COLOR_INDEX[color]
            if not truth.present[t, k] or not mask.any():
                continue
            cx, cy = xs[mask].mean() + 0.5, ys[mask].mean() + 0.5  # pixel centres
            errors.append(float(np.hypot(cx - truth.positions[t, k, 0], cy - truth.positions[t, k, 1])))
        if errors:
            out[t] = float(np.mean(errors))
    return out
