"""Progressive noise levels (PA-VDM, progressive paper §3.1-3.3, Algorithm 1) as steps x frames matrices.

Levels are integer indices into a grid of N + 1 noise levels (0 = clean, N = pure noise); `level_times` maps them to
flow times t in [0, 1]. A *unit* is what shares one level and enters and leaves the window together: one latent
frame, or a chunk of them (§4.1 "Chunk"; `chunk_columns` repeats a unit's level over its frames). The noisy window
holds S units (stages); with k denoising steps per stage, N = S k and each unit passes through every level once.

In the steady state (eq. 6, k = 1) the window's units sit at levels 1, 2, ..., S (front to back); one step takes
them to 0, 1, ..., S - 1, the clean front unit is popped and fresh noise at level S is appended. With k > 1 (the
paper's Open-Sora variant: 50 steps over 10 chunks) unit j moves from (j + 1) k down to j k over k steps. Unit m of
the video enters at autoregressive iteration m and is clean after iteration m + S - 1, so the first S - 1 iterations
grow the window (initialization stage) and the last S - 1 shrink it (termination stage, §3.2 "Variable Length").
"""

from __future__ import annotations

import torch


def steady_levels(stages: int, substeps: int = 1) -> torch.Tensor:
    """Levels [k + 1, S] of one autoregressive iteration in the steady state: row i is unit j at (j + 1) k - i
    (eq. 6 for k = 1: rows [1, ..., S] and [0, ..., S - 1]); the last row is after the iteration's k steps."""
    j = torch.arange(stages)
    i = torch.arange(substeps + 1)
    return (j[None, :] + 1) * substeps - i[:, None]


def window_levels(iteration: int, num_units: int, stages: int, substeps: int = 1) -> tuple[int, torch.Tensor]:
    """The window of autoregressive iteration `iteration` of a video of `num_units` units: (first unit, levels
    [k + 1, n]) for its n units, the unit entering at this iteration included (at level N in row 0). In the
    initialization stage the window is the back of the steady window, in the termination stage its front."""
    first = max(0, iteration - stages + 1)
    last = min(iteration, num_units - 1)
    m = torch.arange(first, last + 1)
    i = torch.arange(substeps + 1)
    return first, (stages - iteration + m[None, :]) * substeps - i[:, None]


def video_levels(num_units: int, stages: int, substeps: int = 1) -> torch.Tensor:
    """The whole video's schedule [(M + S - 1) k + 1, M]: row r holds every unit's level before model call r (the
    last row is the end). Units not yet entered read N, finished ones 0; the window of call r is the units with
    0 < level <= N and a unit entering at call r. O(M^2): for inspection and tests; the sampler walks windows."""
    top = stages * substeps
    r = torch.arange((num_units + stages - 1) * substeps + 1)
    m = torch.arange(num_units)
    return (top - (r[:, None] - m[None, :] * substeps)).clamp(0, top)


def chunk_columns(levels: torch.Tensor, unit_frames: int) -> torch.Tensor:
    """Unit levels [..., n] -> frame levels [..., n * unit_frames]: a chunk's frames share one level (§4.1)."""
    return levels.repeat_interleave(unit_frames, dim=-1)


def with_clean_front(levels: torch.Tensor, front_frames: int) -> torch.Tensor:
    """Prepend `front_frames` clean columns (level 0): the chunk kept in front for temporal attention (§4.1)."""
    zeros = torch.zeros(*levels.shape[:-1], front_frames, dtype=levels.dtype, device=levels.device)
    return torch.cat([zeros, levels], dim=-1)


def training_levels(first: int, count: int, substeps: int, phase: int) -> torch.Tensor:
    """Levels [count] of a training window: units first .. first + count - 1 of the steady window at step `phase`
    of the k steps of an iteration. A full window is first = 0, count = S; the initialization stage's windows are
    suffixes (first = S - count), the termination stage's prefixes (first = 0), a video shorter than the window a
    middle part (§3.2 "We train the model accordingly on variable input video length")."""
    j = torch.arange(first, first + count)
    return ((j + 1) * substeps - phase).float()


def random_shift(levels: torch.Tensor, eps: float | torch.Tensor, scale: float, gap: float, top: int) -> torch.Tensor:
    """§3.3: levels + delta, delta = scale * eps * (t_i - t_{i+1}), with eps ~ N(0, 1) drawn once per training
    iteration (the same delta for every frame) and t_i - t_{i+1} the gap between neighbouring units (k levels).
    Clamped to [0, N] so every level stays inside the noise range (the paper does not say how it bounds it)."""
    return (levels + scale * eps * gap).clamp(0, top)


def linear_times(num_levels: int, shift: float = 1.0) -> torch.Tensor:
    """Flow time of each level 0..N [N + 1], ascending: t_n = n / N (the paper's linear schedule, eq. 6 with
    T = 1), optionally through the SD3 resolution shift s t / (1 + (s - 1) t) that Wan-style models sample with."""
    t = torch.linspace(0, 1, num_levels + 1, dtype=torch.float64)
    return (shift * t / (1 + (shift - 1) * t)).float()


def level_times(levels: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Flow times for (possibly fractional, shifted) levels: linear interpolation in `times` [N + 1] (ascending)."""
    levels = levels.to(times.dtype).clamp(0, len(times) - 1)
    low = levels.floor().long().clamp(max=len(times) - 2)
    frac = levels - low.to(levels.dtype)
    return times[low] + frac * (times[low + 1] - times[low])
