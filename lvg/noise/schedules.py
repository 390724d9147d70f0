"""Times matrices (DESIGN.md, "Samplers walk a times matrix"): what noise level each frame has before each step, as
a matrix [R + 1, F] (rows = steps, the last row after the last step; columns = latent frames), the scheduling
matrix of diffusion forcing (Chen et al. 2024). A sampler walks its rows; a method states it. Pure functions.

- a plain clip: every column is the sampler's schedule (`uniform_times`);
- given frames held clean (the replacement baseline of eq. 4 of the progressive paper): their columns stay at 0
  (`with_frozen_columns`);
- PA-VDM's windows: each chunk's column runs through its own levels (`lvg.noise.progressive`);
- diffusion forcing's asynchronous schedule within a clip (SkyReels-V2, `diffusion_forcing_times`).
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


def diffusion_forcing_times(schedule: torch.Tensor, frames: int, ar_step: int, block_size: int = 1) -> torch.Tensor:
    """SkyReels-V2's asynchronous diffusion-forcing schedule (SkyReels-V2, Chen et al. 2025; diffusers'
    `SkyReelsV2DiffusionForcingPipeline.generate_timestep_matrix`) for one clip: the latent frames in blocks of
    `block_size` (`causal_block_size`), block b starting `ar_step` steps after block b - 1, each block walking the
    whole `schedule` [S + 1]. Row r holds block b at step clamp(r - b * a, 0, S), a = min(ar_step, S):
    [S + a (blocks - 1) + 1, F]. ar_step 0 is synchronous denoising (`uniform_times`); the last row is all clean."""
    steps = schedule.shape[0] - 1
    ar_step = min(ar_step, steps)  # a block never waits once the one before is clean (SkyReels' recursion)
    blocks = -(-frames // block_size)
    rows = schedule.shape[0] + ar_step * (blocks - 1)
    index = (torch.arange(rows)[:, None] - ar_step * torch.arange(blocks)[None, :]).clamp(0, steps)
    per_frame = index.repeat_interleave(block_size, dim=1)[:, :frames]
    return schedule[per_frame]
