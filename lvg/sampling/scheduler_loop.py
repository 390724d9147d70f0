"""Denoise one clip with the backbone's own diffusers scheduler (Euler, UniPC, ... as the checkpoint ships).

Every sampler shares one call signature (k-diffusion style): `sampler(denoise, x, backbone, generator, callback)`,
where `denoise(x, t)` returns the model output for per-frame flow times t [B, F] in [0, 1] (a denoiser that also
takes `step` and `num_steps` keywords is told its place in the schedule). `run` is the same loop
with more control, for noise search: another number of steps, stopping after some steps and continuing later from
the returned `SamplingState`, and the model's clean-sample prediction at the last step taken.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch

from lvg.errors import require
from lvg.noise.timesteps import uniform_rows

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, float, torch.Tensor], None]
Generators = torch.Generator | list[torch.Generator] | None


@dataclass
class SamplingState:
    """Where a denoising run stands: the sample `x` after `step` of the scheduler's steps, the scheduler (its
    multistep history included), and the model's clean prediction `x0` at the last step taken (None before any)."""

    x: torch.Tensor
    scheduler: object
    step: int
    x0: torch.Tensor | None = None

    @property
    def done(self) -> bool:
        return self.step >= len(self.scheduler.timesteps)

    def select(self, rows: torch.Tensor | list[int]) -> SamplingState:
        """The state of some batch rows only (e.g. the winning search candidate), scheduler history included."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        batch = self.x.shape[0]
        scheduler = _select_scheduler_rows(self.scheduler, rows, batch)
        x0 = None if self.x0 is None else self.x0[rows.to(self.x0.device)]
        return SamplingState(self.x[rows.to(self.x.device)], scheduler, self.step, x0)


def _select_scheduler_rows(scheduler, rows: torch.Tensor, batch: int):
    """A copy of `scheduler` whose per-sample tensors (multistep model outputs, last sample) keep only `rows`."""
    out = copy.copy(scheduler)

    def pick(v):
        if torch.is_tensor(v) and v.ndim > 0 and v.shape[0] == batch:
            return v[rows.to(v.device)]
        if isinstance(v, list):
            return [pick(e) for e in v]
        return v

    for name, value in vars(scheduler).items():
        if name not in ("timesteps", "sigmas", "config", "_internal_dict"):
            setattr(out, name, pick(value))
    return out


def _generator_kwarg(scheduler, generator: Generators) -> dict:
    """`generator=` for schedulers whose step draws noise; none for deterministic ones that lack the argument (UniPC,
    which Wan2.1 checkpoints ship)."""
    return {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}


def _takes_schedule(denoise: Denoise) -> bool:
    """Whether `denoise` also takes `step=` and `num_steps=` (its place in the schedule: a guidance schedule over the
    steps needs it, e.g. CogVideoX's dynamic CFG); plain `denoise(x, t)` otherwise."""
    try:
        params = inspect.signature(denoise).parameters
    except (TypeError, ValueError):
        return False
    return {"step", "num_steps"} <= params.keys()


def _x0_from_output(out, model_out: torch.Tensor, x: torch.Tensor, t_rows: torch.Tensor, backbone) -> torch.Tensor:
    """The model's clean-sample prediction: the scheduler's `pred_original_sample` where it gives one, else the
    flow-matching x0 = x_t - t v."""
    x0 = getattr(out, "pred_original_sample", None)
    if x0 is not None:
        return x0
    require(
        getattr(backbone, "prediction_type", "flow") == "flow",
        "this scheduler gives no clean-sample prediction for a non-flow model: use a scheduler that returns "
        "pred_original_sample (Euler, DDIM) for prefix search",
    )
    return x - t_rows.to(x.dtype)[:, None, :, None, None] * model_out


def checked_stop(state: SamplingState, stop: int | None) -> int:
    """The step a run stops at: `stop`, else the end of the schedule; one error outside [state.step, end]."""
    steps = len(state.scheduler.timesteps)
    stop = steps if stop is None else stop
    require(state.step <= stop <= steps, f"stop must be in [{state.step}, {steps}], got {stop}")
    return stop


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
        generator: Generators = None,
        callback: StepCallback | None = None,
    ) -> torch.Tensor:
        return self.run(denoise, x, backbone, generator, callback).x

    def check(self, backbone) -> None:
        """Refuse a backbone this sampler cannot run (called when the module is built); any backbone runs here."""

    def start(self, x: torch.Tensor, backbone, num_steps: int | None = None) -> SamplingState:
        """A fresh run from noise `x` (scaled by the scheduler's initial sigma) over `num_steps` (default: ours)."""
        scheduler = backbone.make_scheduler(self.shift)
        scheduler.set_timesteps(num_steps or self.num_steps, device=x.device)
        return SamplingState(x * getattr(scheduler, "init_noise_sigma", 1.0), scheduler, 0)

    def run(
        self,
        denoise: Denoise,
        x: torch.Tensor | SamplingState,
        backbone,
        generator: Generators = None,
        callback: StepCallback | None = None,
        num_steps: int | None = None,
        stop: int | None = None,
    ) -> SamplingState:
        """Denoise from noise `x` (or continue a `SamplingState`) up to step `stop` (default: the end).

        `generator` may be a list with one generator per batch row (diffusers draws each row's step noise from its
        own), so a row's trajectory does not depend on what else is in the batch."""
        state = x if isinstance(x, SamplingState) else self.start(x, backbone, num_steps)
        scheduler = state.scheduler
        timesteps = scheduler.timesteps
        stop = checked_stop(state, stop)
        if state.step > 0 and hasattr(scheduler, "set_begin_index") and getattr(scheduler, "_step_index", 0) is None:
            scheduler.set_begin_index(state.step)
        scale = float(scheduler.config.num_train_timesteps)
        x, x0 = state.x, state.x0
        step_kwargs = _generator_kwarg(scheduler, generator)
        takes_schedule = _takes_schedule(denoise)
        for i in range(state.step, stop):
            t = timesteps[i]
            t_rows = uniform_rows(float(t) / scale, x.shape[0], x.shape[2], x.device)
            x_in = scheduler.scale_model_input(x, t) if hasattr(scheduler, "scale_model_input") else x
            schedule = {"step": i, "num_steps": len(timesteps)} if takes_schedule else {}
            model_out = denoise(x_in, t_rows, **schedule)
            out = scheduler.step(model_out, t, x, return_dict=True, **step_kwargs)
            x0 = _x0_from_output(out, model_out, x, t_rows, backbone)
            x = out.prev_sample
            if callback is not None:
                callback(i, float(t) / scale, x)
        return SamplingState(x, scheduler, stop, x0)
