"""Denoise one clip with the backbone's own diffusers scheduler (Euler, UniPC, ... as the checkpoint ships).

Every sampler shares one call signature (k-diffusion style): `sampler(denoise, x, backbone, generator, callback)`,
where `denoise(x, t)` returns the model output for per-frame flow times t [B, F] in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lvg.errors import require

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, float, torch.Tensor], None]


class SchedulerSampler:
    """The diffusers scheduler loop: set_timesteps(num_steps), then model call + `scheduler.step` per timestep."""

    def __init__(self, num_steps: int = 20, shift: float | None = None) -> None:
        require(num_steps >= 1, f"num_steps must be at least 1, got {num_steps}")
        self.num_steps = num_steps
        self.shift = shift

    def __call__(
        self,
        denoise: Denoise,
        x: torch.Tensor,
        backbone,
        generator: torch.Generator | None = None,
        callback: StepCallback | None = None,
    ) -> torch.Tensor:
        scheduler = backbone.make_scheduler(self.shift)
        scheduler.set_timesteps(self.num_steps, device=x.device)
        batch, frames = x.shape[0], x.shape[2]
        scale = float(scheduler.config.num_train_timesteps)
        x = x * getattr(scheduler, "init_noise_sigma", 1.0)
        for i, t in enumerate(scheduler.timesteps):
            t_rows = torch.full((batch, frames), float(t) / scale, device=x.device)
            out = denoise(x, t_rows)
            x = scheduler.step(out, t, x, generator=generator, return_dict=False)[0]
            if callback is not None:
                callback(i, float(t) / scale, x)
        return x
