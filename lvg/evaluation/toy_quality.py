"""Drift of a model over toy-world long videos, against the world's ground truth (the README's quality bar).

This generates video (it drives a module), so it sits above the metrics it uses (`lvg.metrics.toy_drift`).

For each held-out world (`HELD_OUT_SEEDS`, from its start), the model continues the world's first `condition_frames`
frames with the world's per-clip prompts, once per noise seed (`noise_seeds` of them; `lvg.seeding.evaluation_seed`):
a single seed per world leaves the first-clip position error noisy (a sprite not found counts as 45 px). Per clip,
the clip's last frame is scored: sprite mass kept relative to the guide (the last given frame), size fidelity,
background error and sprite position error against the truth; the same measures on the true frames are the
reference, and the position error of the guide held still (`still_position`) is what a model that copies without
moving would score.
Curves are means over (world, noise seed) runs (position: over runs where it is defined); `per_seed` has one row per
run, world by world, each world's noise seeds in order.
"""

from __future__ import annotations

import torch

from lvg.data.toy_world import HELD_OUT_SEEDS, toy_start, true_frames, true_state
from lvg.methods.base import GenerationRequest
from lvg.metrics.toy_drift import (
    background_error,
    color_histogram_distance,
    position_error,
    size_fidelity,
    sprite_mass_kept,
)
from lvg.seeding import evaluation_seed

HELD_OUT_SEED_BASE = HELD_OUT_SEEDS.start


def _nan_to_none(rows: list[list[float]]) -> list[list[float | None]]:
    """Undefined values (NaN) as JSON nulls."""
    return [[None if v != v else v for v in row] for row in rows]


@torch.no_grad()
def evaluate_toy_drift(
    module,
    num_seeds: int = 16,
    num_clips: int = 12,
    max_sprites: int = 2,
    seed: int = 0,
    first_seed: int | None = None,
    noise_seeds: int = 1,
    background: str = "flat",
) -> dict:
    """Per-clip drift curves of `module` on `num_seeds` held-out toy worlds x `noise_seeds` noise seeds (from `seed`),
    with the ground truth's for reference; the worlds have the `background` kind (`lvg.data.toy_world.BACKGROUNDS`)."""
    c = module.method.condition_frames
    f, res = module.frames_per_clip, module.height
    step = f - c
    names = ("mass", "true_mass", "size", "background", "histogram", "position", "still_position")
    rows: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    base = HELD_OUT_SEED_BASE if first_seed is None else first_seed
    runs = [(s, n) for s in range(base, base + num_seeds) for n in range(seed, seed + noise_seeds)]
    for s, n in runs:
        start, prompts, clips = toy_start(s, num_clips, f, c, res, max_sprites, background)
        truth = true_frames(clips, c)
        request = GenerationRequest(start, prompts, f, seed=evaluation_seed(n, s))
        frames = [clip.frames for clip in module.generate(request)]
        video = (torch.cat(frames, dim=1).permute(1, 0, 2, 3).cpu() + 1) / 2
        ends = [c - 1 + (i + 1) * step for i in range(num_clips)]  # last frame of each clip
        guide = truth[c - 1]
        state = true_state(clips, c)
        at_ends = state.at(ends)
        rows["mass"].append(sprite_mass_kept(video[ends], guide))
        rows["true_mass"].append(sprite_mass_kept(truth[ends], guide))
        rows["size"].append(size_fidelity(video[ends], truth[ends]))
        rows["background"].append(background_error(video[ends], state.background, at_ends.sprite_masks))
        rows["histogram"].append(color_histogram_distance(video[ends], truth[0]))
        rows["position"].append(position_error(video[ends], at_ends, truth[ends]))
        still = guide.expand(len(ends), *guide.shape)
        rows["still_position"].append(position_error(still, at_ends, truth[ends]))
    curves = {k: torch.stack(v).nanmean(0).tolist() for k, v in rows.items()}
    return {
        "seeds": [base, base + num_seeds - 1],
        "noise_seeds": [seed, seed + noise_seeds - 1],
        "num_clips": num_clips,
        "background": background,
        "first_clip_mass_kept": curves["mass"][0],
        "first_clip_mass_kept_per_seed": torch.stack(rows["mass"])[:, 0].tolist(),
        "first_clip_true_mass_kept": curves["true_mass"][0],
        "first_clip_position_error": curves["position"][0],
        "first_clip_still_position_error": curves["still_position"][0],
        "curves": curves,
        "per_seed": {k: _nan_to_none(torch.stack(v).tolist()) for k, v in rows.items()},
    }
