"""One seeding scheme: every random draw of training, generation and evaluation derives from the run's seed here.

The rules (golden values in tests/test_seeding.py):

- clip i of a generation seeded s draws from `clip_seed(s, i)` = s * 1_000_003 + i, so any clip can be regenerated
  (and a run resumed) alone. PA-VDM's window units use the same rule with the unit index (a unit is its clip's
  chunk, or a latent frame of it);
- candidate j of a noise search of a clip with seed c draws from `candidate_seed(c, j)`: candidate 0 is c itself
  (m = 1 is the naive run), the others c + j * 0x9E3779B97F4A7C15 (mod 2^63), a large odd multiplier that spreads
  them. A fresh generator per run is the chunk-wise paper's "set manual seed before every k-step and full-step
  sampling" (§4.1);
- a method's own stream of a clip (draws that are not the clip's starting noise) is a candidate index no search
  reaches (`STREAMS`): the replacement baseline's re-noising of eq. 3, the causal-KV cache's re-noising at `cache_t`,
  SVD's noise augmentation of the clip's guide image;
- evaluation world w of a run seeded s samples with `evaluation_seed(s, w)` = s * 1_000_003 + w (toy quality,
  T-RFlow calibration);
- training step (epoch e, batch b, rank r, stage offset o) of a module seeded s draws from `step_seed(s, e, b, r, o)`,
  a function of those numbers only, so a resumed run replays the same noise and times.
"""

from __future__ import annotations

import torch

CLIP_STRIDE = 1_000_003
CANDIDATE_SPREAD = 0x9E3779B97F4A7C15
STREAMS = {"replacement_noise": 1 << 20, "cache_noise": (1 << 20) + 1, "guide_augmentation": (1 << 20) + 2}


def clip_seed(seed: int, clip_index: int) -> int:
    """The seed of clip (or PA-VDM unit) `clip_index` of a run seeded `seed`."""
    return seed * CLIP_STRIDE + clip_index


def candidate_seed(clip: int, candidate: int) -> int:
    """The seed of candidate `candidate` of a clip seeded `clip` (candidate 0 is the clip's own seed)."""
    return clip if candidate == 0 else (clip + candidate * CANDIDATE_SPREAD) % (2**63)


def stream_seed(clip: int, stream: str) -> int:
    """The seed of a method's own stream of draws (`STREAMS`) in a clip seeded `clip`."""
    return candidate_seed(clip, STREAMS[stream])


def evaluation_seed(seed: int, world: int) -> int:
    """The generation seed of evaluation world `world` in a run seeded `seed`."""
    return seed * CLIP_STRIDE + world


def step_seed(seed: int, epoch: int, batch: int, rank: int = 0, offset: int = 0) -> int:
    """The seed of one training (or validation: `offset`) step; Python's tuple hash of ints is fixed across runs."""
    return hash((seed, epoch, batch, rank, offset)) % (2**63)


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded `seed` (the noise is drawn on the CPU, then moved, so devices agree)."""
    return torch.Generator().manual_seed(seed)
