"""Denoise one clip with the backbone's own diffusers scheduler (Euler, UniPC, ... as the checkpoint ships).

Every sampler walks a times matrix (`lvg.contracts.Sampler`): `walk(denoise, x, times [R + 1, F], backbone, generator,
callback)` steps x along its rows, where `denoise(x, t)` returns the model output for per-frame times t [B, F]
(flow times in [0, 1], or a DDPM scheduler's timestep / num_train_timesteps; a denoiser that also takes `step` and
`num_steps` keywords is told its place in the schedule). `schedule(backbone, n)` is the sampler's own row of n + 1
times, which a method repeats over a clip's frames (`lvg.noise.schedules`). This sampler walks a matrix whose columns
follow its schedule, or stay constant (frames held at their time: given frames), with the scheduler's own update;
any other matrix (PA-VDM's windows, each frame at its own level) with the per-frame Euler update, which only a
flow-match Euler scheduler takes (`walks_per_frame`). `run` walks a whole clip's uniform matrix, with the control a
noise search needs: another number of steps, stopping after some steps and continuing later from the returned
`SamplingState`, and the model's clean-sample prediction at the last step taken.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from lvg.contracts import Backbone, Denoise, Generators, Parts, StepCallback, require_flow
from lvg.errors import LvgError, require
from lvg.noise.schedules import follows_schedule
from lvg.noise.timesteps import uniform_rows
from lvg.sampling.per_frame_euler import euler_rows


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
        backbone.prediction_type == "flow",
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

    def __init__(self, num_steps: int = 20, shift: float | None = None, stochastic: bool = False) -> None:
        """`shift`: the flow scheduler's time shift (None: the checkpoint's). `stochastic`: diffusers' stochastic
        flow-match Euler step (`FlowMatchEulerDiscreteScheduler(stochastic_sampling=True)`, from LTX-Video
        0.9.6-distilled's sampler): each step re-noises the model's clean estimate to the next time with fresh noise,
        x_t' = (1 - t') x0 + t' eps, instead of the deterministic Euler step x + (t' - t) v, so each input is a clean
        estimate noised as in training. Flow-match Euler schedulers only, whole-clip walks only."""
        require(num_steps >= 1, f"num_steps must be at least 1, got {num_steps}")
        self.num_steps = num_steps
        self.shift = shift
        self.stochastic = bool(stochastic)

    def make_scheduler(self, backbone: Backbone):
        """A fresh scheduler of the backbone's checkpoint at this sampler's shift (stochastic where asked)."""
        scheduler = backbone.make_scheduler(self.shift)
        if not self.stochastic:
            return scheduler
        require(
            isinstance(scheduler, FlowMatchEulerDiscreteScheduler),
            f"stochastic sampling is a flow-match Euler step, and the {type(backbone).__name__} checkpoint's "
            f"scheduler is {type(getattr(scheduler, 'scheduler', scheduler)).__name__}: set stochastic false or use a "
            "flow-match Euler checkpoint",
        )
        return FlowMatchEulerDiscreteScheduler.from_config(scheduler.config, stochastic_sampling=True)

    def __call__(
        self,
        denoise: Denoise,
        x: torch.Tensor,
        backbone: Backbone,
        generator: Generators = None,
        callback: StepCallback | None = None,
    ) -> torch.Tensor:
        return self.run(denoise, x, backbone, generator, callback).x

    def check(self, parts: Parts) -> None:
        """Refuse a method whose frames sit at different times when this sampler cannot step them (module doc), and
        stochastic steps where they cannot be taken."""
        if self.stochastic:
            self.make_scheduler(parts.backbone)
            require(
                parts.method.trajectory not in ("windowed", "asynchronous"),
                f"stochastic sampling re-noises whole clips, and {parts.names(parts.method, self)} steps every frame "
                "from its own level (deterministic per-frame Euler): set stochastic false",
            )
        if parts.method.trajectory in ("windowed", "asynchronous"):
            require_flow(parts.backbone, parts.method, "per-frame levels are flow times; use a flow backbone")
            if not self.walks_per_frame(parts.backbone):
                name = type(parts.backbone.make_scheduler(self.shift)).__name__
                raise LvgError(
                    f"{parts.names(parts.method, self)} steps every frame from its own level, which {name} (the "
                    f"{type(parts.backbone).__name__} checkpoint's scheduler) cannot: use lvg.sampling.EulerSampler"
                )

    def walks_per_frame(self, backbone: Backbone) -> bool:
        """Whether this sampler can step frames at different times: flow-match Euler only."""
        return not self.stochastic and isinstance(backbone.make_scheduler(self.shift), FlowMatchEulerDiscreteScheduler)

    def solver(self, backbone: Backbone) -> str:
        """The update this sampler steps with on `backbone`: `euler`, or the multistep scheduler's class name (a
        comparison across samplers is fair only between runs of one solver; `lvg evaluate` warns otherwise)."""
        if self.stochastic:
            return "stochastic euler"
        return "euler" if self.walks_per_frame(backbone) else type(backbone.make_scheduler(self.shift)).__name__

    def check_steps(self, backbone: Backbone, num_steps: int) -> None:
        """Refuse a step count this sampler cannot run (a k-step preview asks at build); any count >= 1 runs here."""
        require(num_steps >= 1, f"{type(self).__name__} needs at least 1 step, got {num_steps}")

    def schedule(self, backbone: Backbone, num_steps: int | None = None) -> torch.Tensor:
        """The times [n + 1] the model is called at, step by step, then 0 (the scheduler's timesteps over its
        num_train_timesteps, computed as the loop computes them, so a matrix built from it matches bit for bit)."""
        scheduler = self.make_scheduler(backbone)
        scheduler.set_timesteps(num_steps or self.num_steps)
        scale = float(scheduler.config.num_train_timesteps)
        return torch.tensor([float(t) / scale for t in scheduler.timesteps] + [0.0], dtype=torch.float32)

    def walk(
        self,
        denoise: Denoise,
        x: torch.Tensor | SamplingState,
        times: torch.Tensor,
        backbone: Backbone,
        generator: Generators = None,
        callback: StepCallback | None = None,
        stop: int | None = None,
        per_frame: bool = False,
    ) -> SamplingState:
        """Step x (or continue a `SamplingState`) along the rows of `times` [R + 1, F] up to row `stop` (module
        doc); `per_frame` steps every frame by its own times (Euler on the matrix values) even where the columns
        agree with the schedule (PA-VDM's windows, whatever their grid)."""
        steps = times.shape[0] - 1
        if not per_frame and follows_schedule(times, self.schedule(backbone, steps)):
            return self.run(denoise, x, backbone, generator, callback, num_steps=steps, stop=stop, times=times)
        require(
            not self.stochastic,
            "stochastic sampling re-noises whole clips; this walk steps frames at different times: set stochastic "
            "false",
        )
        require(
            self.walks_per_frame(backbone),
            f"{type(self).__name__} cannot step frames at different times with this backbone's scheduler: use "
            "lvg.sampling.EulerSampler",
        )
        require(stop is None and torch.is_tensor(x), "a per-frame walk runs whole: no stop, no state to continue")
        return SamplingState(euler_rows(denoise, x, times, callback), None, steps, None)

    def start(self, x: torch.Tensor, backbone: Backbone, num_steps: int | None = None) -> SamplingState:
        """A fresh run from noise `x` (scaled by the scheduler's initial sigma) over `num_steps` (default: ours)."""
        scheduler = self.make_scheduler(backbone)
        scheduler.set_timesteps(num_steps or self.num_steps, device=x.device)
        return SamplingState(x * getattr(scheduler, "init_noise_sigma", 1.0), scheduler, 0)

    def run(
        self,
        denoise: Denoise,
        x: torch.Tensor | SamplingState,
        backbone: Backbone,
        generator: Generators = None,
        callback: StepCallback | None = None,
        num_steps: int | None = None,
        stop: int | None = None,
        times: torch.Tensor | None = None,
    ) -> SamplingState:
        """Denoise from noise `x` (or continue a `SamplingState`) up to step `stop` (default: the end), the model
        told the times of `times` (default: this schedule on every frame; frozen columns hold given frames).

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
            if times is None:
                t_rows = uniform_rows(float(t) / scale, x.shape[0], x.shape[2], x.device)
            else:
                t_rows = times[i].to(x.device).expand(x.shape[0], -1)
            x_in = scheduler.scale_model_input(x, t) if hasattr(scheduler, "scale_model_input") else x
            schedule = {"step": i, "num_steps": len(timesteps)} if takes_schedule else {}
            model_out = denoise(x_in, t_rows, **schedule)
            out = scheduler.step(model_out, t, x, return_dict=True, **step_kwargs)
            x0 = _x0_from_output(out, model_out, x, t_rows, backbone)
            x = out.prev_sample
            if callback is not None:
                callback(i, float(t) / scale, x)
        return SamplingState(x, scheduler, stop, x0)
