"""Drift of a model over toy-world long videos, against the world's ground truth (the README's quality bar).

For each held-out seed, the model continues the world's first `condition_frames` frames with the world's per-clip
prompts, with its own noise seed (derived from `seed` and the world's seed). Per clip, the clip's last frame is
scored: sprite-colour mass kept relative to the guide (the last given frame), background error against the true
background, and sprite position error against the true centres; the same measures on the true frames are the
reference, and the position error of the guide held still (`still_position`) is what a model that copies without
moving would score. Curves are means over seeds (position: over seeds where it is defined).
"""

from __future__ import annotations

import torch

from lvg.data.toy_world import Truth, _concat_truth, _slice_truth, toy_start
from lvg.methods.base import GenerationRequest
from lvg.metrics.toy_drift import background_error, color_histogram_distance, position_error, sprite_mass_kept

HELD_OUT_SEED_BASE = 900_000


def true_frames(clips: list, overlap: int) -> torch.Tensor:
    """The continuous true frames [T, 3, H, W] in [0, 1] of consecutive clips (overlaps counted once)."""
    return torch.cat([clips[0].frames] + [c.frames[overlap:] for c in clips[1:]])


def true_long_video(
    seed: int, num_clips: int, frames_per_clip: int, overlap: int, resolution: int, max_sprites: int = 3
) -> tuple[torch.Tensor, Truth]:
    """The true frames [T, 3, H, W] in [0, 1] and ground truth of the toy long video `toy_start` begins."""
    _, _, clips = toy_start(seed, num_clips, frames_per_clip, overlap, resolution, max_sprites)
    return true_frames(clips, overlap), true_state(clips, overlap)


def true_state(clips: list, overlap: int) -> Truth:
    """The ground truth of consecutive clips as one long video (overlaps counted once), frame for frame with
    `true_frames`."""
    truth = clips[0].truth
    for clip in clips[1:]:
        truth = _concat_truth(truth, _slice_truth(clip.truth, overlap))
    return truth


def _nan_to_none(rows: list[list[float]]) -> list[list[float | None]]:
    """Undefined values (NaN) as JSON nulls."""
    return [[None if v != v else v for v in row] for row in rows]


@torch.no_grad()
def evaluate_toy_drift(
    module,
    num_seeds: int = 16,
    num_clips: int = 12,
    max_sprites: int = 3,
    seed: int = 0,
    first_seed: int | None = None,
) -> dict:
    """Per-clip drift curves of `module` on `num_seeds` held-out toy worlds, with the ground truth's for reference."""
    c = module.method.condition_frames
    f, res = module.frames_per_clip, module.height
    step = f - c
    rows = {"mass": [], "background": [], "histogram": [], "true_mass": [], "position": [], "still_position": []}
    base = HELD_OUT_SEED_BASE if first_seed is None else first_seed
    for s in range(base, base + num_seeds):
        start, prompts, clips = toy_start(s, num_clips, f, c, res, max_sprites)
        truth = true_frames(clips, c)
        request = GenerationRequest(start, prompts, f, seed=seed * 1_000_003 + s)
        video = (torch.cat(list(module.generate(request)), dim=1).permute(1, 0, 2, 3).cpu() + 1) / 2
        ends = [c - 1 + (i + 1) * step for i in range(num_clips)]  # last frame of each clip
        guide = truth[c - 1]
        at_ends = true_state(clips, c).at(ends)
        rows["mass"].append(sprite_mass_kept(video[ends], guide))
        rows["true_mass"].append(sprite_mass_kept(truth[ends], guide))
        rows["background"].append(background_error(video[ends], clips[0].truth.background))
        rows["histogram"].append(color_histogram_distance(video[ends], truth[0]))
        rows["position"].append(position_error(video[ends], at_ends))
        rows["still_position"].append(position_error(guide.expand(len(ends), *guide.shape), at_ends))
    curves = {k: torch.stack(v).nanmean(0).tolist() for k, v in rows.items()}
    return {
        "seeds": [base, base + num_seeds - 1],
        "num_clips": num_clips,
        "first_clip_mass_kept": curves["mass"][0],
        "first_clip_mass_kept_per_seed": torch.stack(rows["mass"])[:, 0].tolist(),
        "first_clip_true_mass_kept": curves["true_mass"][0],
        "first_clip_position_error": curves["position"][0],
        "first_clip_still_position_error": curves["still_position"][0],
        "curves": curves,
        "per_seed": {k: _nan_to_none(torch.stack(v).tolist()) for k, v in rows.items()},
    }
