"""Times matrices (DESIGN.md, "Samplers walk a times matrix"): what noise level each frame has before each step, as
a matrix [R + 1, F] (rows = steps, the last row after the last step; columns = latent frames), the scheduling
matrix of diffusion forcing (Chen et al. 2024). A sampler walks its rows; a method states it. Pure functions.

- a plain clip: every column is the sampler's schedule (`uniform_times`);
- given frames held clean (the replacement baseline of eq. 4 of the progressive paper): their columns stay at 0
  (`with_frozen_columns`);
- PA-VDM's windows: each chunk's column runs through its own levels (`lvg.noise.progressive`).
"""

from __future__ import annotations

import torch


def uniform_times(schedule: torch.Tensor, frames: int) -> torch.Tensor:
    """The schedule [R + 1] on every one of `frames` columns: [R + 1, F]."""
    return schedule[:, None].expand(-1, frames).clone()


def with_frozen_columns(times: torch.Tensor, count: int, value: float = 0.0) -> torch.Tensor:
    """The first `count` columns held at `value` (frames that never change: given clean frames at 0)."""
    out = times.clone()
    out[:, :count] = value
    return out


def frozen_columns(times: torch.Tensor) -> torch.Tensor:
    """Which columns never change over the rows: [F] bool."""
    return (times == times[:1]).all(dim=0)


def follows_schedule(times: torch.Tensor, schedule: torch.Tensor, atol: float = 1e-6) -> bool:
    """Whether every column either follows `schedule` [R + 1] or stays constant (and at least one follows it)."""
    if times.shape[0] != schedule.shape[0]:
        return False
    moving = ~frozen_columns(times)
    if not bool(moving.any()):
        return False
    return bool(torch.allclose(times[:, moving], schedule[:, None].to(times).expand(-1, int(moving.sum())), atol=atol))
