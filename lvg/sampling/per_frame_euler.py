"""Euler on the flow ODE with a noise level per frame: walk the rows of a steps x frames matrix of flow times.

Why not diffusers: `FlowMatchEulerDiscreteScheduler.step(per_token_timesteps=...)` expects packed tokens [B, seq, C]
and steps from each token's level to the next lower level of its own single schedule; a progressive window needs
each frame to move between arbitrary rows of its own, so the one-line update is written here (diffusion-forcing
style: the schedule is a matrix built up front, the sampler just walks it).
"""

from __future__ import annotations

import torch

from lvg.contracts import Denoise, StepCallback


def euler_rows(
    denoise: Denoise, x: torch.Tensor, times: torch.Tensor, callback: StepCallback | None = None, step0: int = 0
) -> torch.Tensor:
    """Denoise x [B, C, F, H, W] through the rows of `times` [R + 1, F] (flow times, 1 = noise): for each row r,
    x <- x + (t_{r+1} - t_r) v(x, t_r), per frame. A frame whose time does not change is left as it is. Equal
    columns are ordinary flow-matching Euler sampling."""
    b = x.shape[0]
    times = times.to(x.device, torch.float32)
    for r in range(times.shape[0] - 1):
        t, t_next = times[r], times[r + 1]
        v = denoise(x, t.expand(b, -1))
        x = x + (t_next - t).to(x.dtype)[None, None, :, None, None] * v
        if callback is not None:
            callback(step0 + r, float(t.max()), x)
    return x
