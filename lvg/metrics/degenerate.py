"""Degenerate toy videos, and whether a measure orders them as a person would (a measure is trusted only after this).

Four (five) videos of one toy world, `frames` long: the true video; the right sprites in the wrong places (each
sprite moved by half its range of positions, in both axes); a blank background; noise in the palette's colours (each
pixel, with probability 1/2, a random palette colour, else the background), fresh every frame, and the same noise
frame held still (what a collapsed model writes: temporally consistent noise).

A person orders them true >= misplaced > blank > noise, the two noises last. Each measure declares what it is built
to see (`EXPECTED`: groups of cases it may not tell apart, best first); `judge` scores the cases and says whether
the declared order holds with a margin. A measure whose order fails cannot judge a toy video, and `lvg evaluate`
says so beside its numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lvg.data.toy_world import PALETTE, ToyWorld, Truth

CASES = ("true", "misplaced", "blank", "noise", "frozen_noise")
PERSON_ORDER = [["true", "misplaced"], ["blank"], ["noise", "frozen_noise"]]  # best first; a group may tie
# what each toy measure is built to see: its groups of cases, best first (ties within a group are allowed)
EXPECTED = {
    "toy_mass_kept": PERSON_ORDER,  # blind to position
    "toy_size_fidelity": PERSON_ORDER,  # blind to position
    "toy_position_error": [["true"], ["misplaced"], ["blank", "noise", "frozen_noise"]],  # nothing found: all miss
    "toy_background_error": [["true", "blank"], ["misplaced"], ["noise", "frozen_noise"]],  # blind to absence
}
MARGIN = 0.02  # relative to the spread of the scores: how clearly one group must beat the next


@dataclass
class DegenerateVideos:
    """The cases' frames [F, 3, H, W] in [0, 1], and the true video's ground truth."""

    videos: dict[str, torch.Tensor]
    truth: Truth


def _misplaced(world: ToyWorld, frames: int) -> torch.Tensor:
    """The world's video with every sprite drawn half its position range away from where it is."""
    out = []
    for _ in range(frames):
        shown = copy.deepcopy(world)
        for s in shown.sprites:
            lo, hi = shown.bounds(s.radius)
            span = max(hi - lo, 1)
            s.x = lo + (s.x - lo + span / 2) % span
            s.y = lo + (s.y - lo + span / 2) % span
        out.append(torch.from_numpy(shown.render()[0]))
        world.step()
    return torch.stack(out)


def _palette_noise(background: np.ndarray, frames: int, rng: np.random.Generator) -> torch.Tensor:
    palette = np.array(list(PALETTE.values()), dtype=np.float32)  # [K, 3]
    h, w = background.shape[1:]
    out = []
    for _ in range(frames):
        colours = palette[rng.integers(len(palette), size=(h, w))].transpose(2, 0, 1)
        keep_bg = rng.random((h, w)) < 0.5
        out.append(np.where(keep_bg[None], background, colours))
    return torch.from_numpy(np.stack(out).astype(np.float32))


def degenerate_videos(seed: int = 900_000, resolution: int = 32, frames: int = 8) -> DegenerateVideos:
    """The five cases of one toy world (module doc)."""
    clip = ToyWorld(seed, resolution=resolution).video(frames)
    bg = clip.truth.background
    rng = np.random.default_rng(seed)
    noise = _palette_noise(bg, frames, rng)
    videos = {
        "true": clip.frames,
        "misplaced": _misplaced(ToyWorld(seed, resolution=resolution), frames),
        "blank": torch.from_numpy(bg)[None].expand(frames, -1, -1, -1).clone(),
        "noise": noise,
        "frozen_noise": noise[:1].expand(frames, -1, -1, -1).clone(),
    }
    return DegenerateVideos(videos, clip.truth)


def holds(scores: dict[str, float], groups: list[list[str]], higher_is_better: bool) -> bool:
    """Whether `scores` follow `groups` (best first): every case of a group beats every case of a later group by
    MARGIN of the scores' spread. Cases within a group may take any values."""
    sign = 1.0 if higher_is_better else -1.0
    values = {k: sign * v for k, v in scores.items()}
    spread = max(values.values()) - min(values.values())
    if spread <= 0:
        return False
    for better, worse in zip(groups, groups[1:]):
        if min(values[c] for c in better) - max(values[c] for c in worse) < MARGIN * spread:
            return False
    return True


def judge(score: Callable[[torch.Tensor, DegenerateVideos], float], higher_is_better: bool, groups=None) -> dict:
    """Score every case with `score(frames, cases)` and check the order `groups` (default: a person's)."""
    cases = degenerate_videos()
    scores = {name: float(score(frames, cases)) for name, frames in cases.videos.items()}
    groups = groups or PERSON_ORDER
    return {"scores": scores, "expected": groups, "holds": holds(scores, groups, higher_is_better)}
