"""Toy-world ground-truth drift measures, per frame. Frames are float RGB [F, 3, H, W] in [0, 1].

One definition used everywhere (README curves, tests, notebooks, the toy k-step scorer). A pixel belongs to a palette
colour when it lies within `tol` (RGB Euclidean) of it. A *sprite* of a colour is that colour's largest 8-connected
component; the colour's other pixels are *stray* (speckle, fragments, noise). Counting only the largest component and
charging the stray pixels is what lets the measures tell a sprite from noise in the sprite's colours (v1 counted
every pixel of the colour, so a frame of palette noise kept half the mass):

- sprite mass kept: over the reference frame's colours, sum of (min(sprite, reference sprite) - stray) / sum of the
  reference sprites, clipped to [-1, 1]: fragmenting, blurring, shrinking or recolouring a sprite lowers it, extra
  sprites of new colours do not raise it, noise in the sprite colours makes it negative. Blind to position;
- size fidelity: per colour visible in the true frame, min/max of the sprite's and the true pixel counts minus the
  stray share, clipped to [-1, 1], mean over colours. Blind to position;
- position error: per sprite visible in the true frame, the distance in pixels from its colour's sprite centroid to
  the true centre; a sprite not found (its largest component under a quarter of its visible size) counts as the
  frame diagonal, the largest error there is. Mean over visible sprites (NaN where none is visible);
- background error: mean |frame - true background| over the pixels that no true sprite covers, dilated by one pixel
  (the true masks, not the frame's colours: noise cannot hide itself by being palette-coloured). Blind to a missing
  sprite;
- colour-histogram distance: half the L1 distance between normalised 4x4x4 RGB histograms, in [0, 1].

`lvg.metrics.degenerate` checks each against a true frame, the right sprites in the wrong places, a blank background
and palette noise, and says which measure cannot see what.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from lvg.data.toy_world import PALETTE, Truth

COLOR_INDEX = {name: i for i, name in enumerate(PALETTE)}
PALETTE_RGB = torch.tensor(list(PALETTE.values()), dtype=torch.float32)  # [K, 3]
FOUND_SHARE = 0.25  # a sprite counts as found when its largest component has this share of its visible pixels


def _as_frames(frames) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(frames) if not torch.is_tensor(frames) else frames).float()
    return x[None] if x.ndim == 3 else x


def palette_labels(frames, tol: float = 0.3) -> torch.Tensor:
    """Per pixel, the index of the palette colour within `tol`, or -1: [F, H, W]."""
    x = _as_frames(frames)
    dist = torch.linalg.vector_norm(x[:, None] - PALETTE_RGB[None, :, :, None, None], dim=2)  # [F, K, H, W]
    best, idx = dist.min(dim=1)
    return torch.where(best <= tol, idx, torch.full_like(idx, -1))


@dataclass
class ColourBlobs:
    """Per frame and palette colour [F, K]: pixels of the colour, of its largest 8-connected component (the sprite),
    and that component's centroid (x, y) in pixels [F, K, 2] (NaN where the colour is absent)."""

    total: torch.Tensor
    sprite: torch.Tensor
    centroid: torch.Tensor

    @property
    def stray(self) -> torch.Tensor:
        return self.total - self.sprite


def label_blobs(labels: np.ndarray, num_colours: int) -> ColourBlobs:
    """The sprite (largest 8-connected component) of each colour 0..num_colours-1 in integer label maps [F, H, W]
    (-1: no colour)."""
    f = labels.shape[0]
    total, sprite = np.zeros((f, num_colours), np.float32), np.zeros((f, num_colours), np.float32)
    centroid = np.full((f, num_colours, 2), np.nan, np.float32)
    for i in range(f):
        for c in np.unique(labels[i]):
            if c < 0:
                continue
            mask = (labels[i] == c).astype(np.uint8)
            _, _, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
            areas = stats[1:, cv2.CC_STAT_AREA]
            best = int(areas.argmax())
            total[i, c], sprite[i, c] = areas.sum(), areas[best]
            centroid[i, c] = centres[best + 1] + 0.5  # pixel centres
    return ColourBlobs(torch.from_numpy(total), torch.from_numpy(sprite), torch.from_numpy(centroid))


def colour_blobs(frames, tol: float = 0.3) -> ColourBlobs:
    """The sprite (largest component) of every palette colour in every frame (module doc)."""
    return label_blobs(palette_labels(frames, tol).numpy(), len(PALETTE_RGB))


def mass_kept(blobs: ColourBlobs, reference: torch.Tensor) -> torch.Tensor:
    """Per frame, (sum over the reference's colours of min(sprite, reference sprite) - stray) / sum of the reference
    sprites [K], clipped to [-1, 1]: [F]."""
    used = (reference > 0).float()
    kept = (torch.minimum(blobs.sprite, reference[None]) - blobs.stray) * used
    return (kept.sum(1) / reference.sum().clamp(min=1)).clamp(-1, 1)


def sprite_color_mass(frames, tol: float = 0.3) -> torch.Tensor:
    """Pixels of each palette colour's sprite (largest component) per frame: [F, K]."""
    return colour_blobs(frames, tol).sprite


def sprite_mass_kept(frames, reference, tol: float = 0.3) -> torch.Tensor:
    """Share of the reference frame's sprite mass still present, less stray pixels of its colours, per frame: [F] in
    [-1, 1] (module doc)."""
    return mass_kept(colour_blobs(frames, tol), colour_blobs(reference, tol).sprite[0])


def size_fidelity(frames, true_frames, tol: float = 0.3) -> torch.Tensor:
    """Per frame, mean over colours visible in the true frame of min/max(sprite, true count) - stray / true count,
    clipped to [-1, 1]: [F]."""
    gen, true = colour_blobs(frames, tol), colour_blobs(true_frames, tol).total
    ratio = torch.minimum(gen.sprite, true) / torch.maximum(gen.sprite, true).clamp(min=1)
    score = (ratio - gen.stray / true.clamp(min=1)).clamp(-1, 1)
    present = true > 0
    return (score * present).sum(1) / present.sum(1).clamp(min=1)


def position_error(frames, truth: Truth, true_frames, tol: float = 0.3) -> torch.Tensor:
    """Per frame, mean over sprites visible in the true frame of the distance (pixels) from the sprite centroid of
    their colour to the true centre; a sprite not found counts as the frame diagonal; NaN if none is visible: [F]."""
    gen, true = colour_blobs(frames, tol), colour_blobs(true_frames, tol)
    h, w = _as_frames(true_frames).shape[-2:]
    miss = float(np.hypot(h, w))
    out = torch.full((len(gen.total),), float("nan"))
    for t in range(len(out)):
        errors = []
        for k, color in enumerate(truth.colors):
            c = COLOR_INDEX[color]
            visible = float(true.total[t, c])
            if not truth.present[t, k] or visible == 0:
                continue
            if float(gen.sprite[t, c]) < max(1.0, FOUND_SHARE * visible):
                errors.append(miss)
                continue
            cx, cy = gen.centroid[t, c].tolist()
            errors.append(float(np.hypot(cx - truth.positions[t, k, 0], cy - truth.positions[t, k, 1])))
        if errors:
            out[t] = float(np.mean(errors))
    return out


def background_error(frames, background, sprite_masks) -> torch.Tensor:
    """Mean absolute error to the true background [3, H, W] over pixels that no true sprite covers (the true masks
    [F, H, W], dilated by one pixel): [F]."""
    x = _as_frames(frames)
    bg = torch.as_tensor(np.asarray(background)).float()
    masks = torch.as_tensor(np.asarray(sprite_masks)).float()
    masks = masks[None] if masks.ndim == 2 else masks
    covered = F.max_pool2d(masks[:, None], kernel_size=3, stride=1, padding=1)  # [F, 1, H, W]
    free = 1 - covered
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
