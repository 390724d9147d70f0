"""Per-frame toy-world drift curves of a video `lvg generate` started from a toy world (definitions in
`lvg.metrics.toy_drift`), for plots over frame index (the progressive paper's figure 3 shape) that compare methods
whose clips have different lengths.

Per generated frame (the given start frames are left out): `mass_kept` (sprite mass kept relative to the guide, the
last given frame, less stray pixels of its colours; higher is better), `background_error` (against the true
background, off the true sprites; lower is better) and `histogram_distance` (colour histogram against the world's
first true frame; lower is better).
"""

from __future__ import annotations

import numpy as np
import torch

from lvg.errors import require
from lvg.metrics.base import as_uint8_frames
from lvg.metrics.per_clip import given_frames
from lvg.metrics.toy_drift import background_error, color_histogram_distance, sprite_mass_kept
from lvg.metrics.toy_ground_truth import toy_truth

CURVES = {"mass_kept": True, "background_error": False, "histogram_distance": False}  # name -> higher is better


def toy_frame_curves(frames: np.ndarray, sidecar: dict) -> dict[str, np.ndarray]:
    """Each curve of CURVES over the generated frames of `frames` (uint8 [T, H, W, 3]): name -> [T - given]."""
    start = sidecar.get("start", {})
    require("toy_seed" in start, "the video did not start from a toy world: toy curves need its ground truth")
    c = given_frames(sidecar)
    truth = toy_truth(int(start["toy_seed"]), len(sidecar["clips"]), int(sidecar["frames_per_clip"]), c,
                      int(sidecar["height"]))  # fmt: skip
    x = torch.from_numpy(np.ascontiguousarray(as_uint8_frames(frames)[c:])).permute(0, 3, 1, 2).float() / 255
    masks = truth.truth.sprite_masks[c : c + len(x)]
    return {
        "mass_kept": sprite_mass_kept(x, truth.frames[truth.guide_index]).numpy(),
        "background_error": background_error(x, truth.truth.background, masks).numpy(),
        "histogram_distance": color_histogram_distance(x, truth.frames[0]).numpy(),
    }


def segment_means(curve: np.ndarray, length: int) -> np.ndarray:
    """Means of consecutive segments of `length` frames (a last shorter segment is dropped): [len(curve) // length]."""
    require(length >= 1, f"segment length must be at least 1 frame, got {length}")
    n = len(curve) // length
    return np.asarray(curve[: n * length], dtype=np.float64).reshape(n, length).mean(1)
