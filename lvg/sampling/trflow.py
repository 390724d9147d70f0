"""Truncation-rectified flow, T-RFlow (error-free paper, §3.2 eqs. 1-3 and §3.4).

Derivation implemented (the extracted eqs. 1-3 lost their symbols; this is our reading). Euler steps on the flow ODE
(v = noise - x0, t = 1 is noise) over the scheduler's sigmas t_0 > t_1 > ... > t_s, with dt_i = t_i - t_{i+1}:

    x_{t_{i+1}} = x_{t_i} - dt_i v_i,   so   x_{t_s} = x_T - sum_i dt_i v_i = sum_i (dt_i / S) (x_T - S v_i),

where S = sum_i dt_i = t_0 - t_s (= 1 for t_0 = 1, t_s = 0). The Euler result is a dt-weighted sum of per-step
estimates e_i = x_T - S v_i of the clean latent (eq. 3). T-RFlow keeps only the terms whose t_i lie in
[t_low, t_high] and renormalises their weights, w_i = dt_i / sum_kept dt_j (§3.4). `estimate="x0"` offers the other
reading, e_i = x_{t_i} - t_i v_i (the model's own clean prediction at step i); it does not reproduce Euler on [0, 1].
Time runs from t = 1 (noise) to 0 here, as in Wan. The paper's table 3 calls [0, 0.7] the run that drops the late,
high-frequency steps, which reads as a noise-to-clean axis; there its [0, 0.7] is our [0.3, 1] (and [0.3, 0.7] is the
same on both axes).

The trajectory x_{t_i} still follows plain Euler: a kept term at t_i needs the model at x_{t_i}, which depends on
every earlier step, so the steps above t_high are computed (their terms dropped). Nothing depends on the steps below
t_low, so no model call is made there: the sampler saves the s - (index after the last kept step) evaluations (with
s = 50 uniform steps and t_low = 0.3, about 15 calls per clip, 30%). The model is called at the scheduler's own
timesteps (as `SchedulerSampler` and the diffusers pipelines do; UniPC rounds them to integers) and the steps use its
sigmas, shift included; for a multistep scheduler (UniPC in Wan2.1 checkpoints) the trajectory is Euler on that
scheduler's sigmas, not the multistep update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from lvg.contracts import Parts, require_flow
from lvg.errors import LvgError, require
from lvg.noise.timesteps import uniform_rows
from lvg.sampling.scheduler_loop import (
    Denoise,
    Generators,
    SamplingState,
    SchedulerSampler,
    StepCallback,
    checked_stop,
)

ESTIMATES = ("euler", "x0")
TOLERANCE = 1e-6  # schedule times within this of a threshold count as inside (float32 sigmas)


@dataclass
class StepEstimate:
    """One step's term of eq. 3: time t, Euler step dt, its renormalised weight (0: dropped), the clean estimate
    (on the CPU)."""

    t: float
    dt: float
    weight: float
    estimate: torch.Tensor

    @property
    def kept(self) -> bool:
        return self.weight > 0


@dataclass
class TRFlowState(SamplingState):
    """A T-RFlow run: `x` is the Euler trajectory while the run goes on and the renormalised kept sum once `done`.

    `noise` is x_T, `total` the sum of the kept terms' w_i e_i so far and `kept_weight` the sum of their w_i (1 once
    done); `estimates` holds every computed step's term when the sampler keeps them (off by default: memory stays
    flat)."""

    noise: torch.Tensor | None = None
    total: torch.Tensor | None = None
    kept_weight: float = 0.0
    estimates: list[StepEstimate] = field(default_factory=list)

    @property
    def estimate(self) -> torch.Tensor | None:
        """The T-RFlow result from the kept terms so far (None before the first kept step)."""
        return None if self.total is None else self.total / self.kept_weight

    def select(self, rows: torch.Tensor | list[int]) -> TRFlowState:
        rows = torch.as_tensor(rows, dtype=torch.long)
        base = super().select(rows)

        def pick(v):
            return None if v is None else v[rows.to(v.device)]

        estimates = [StepEstimate(e.t, e.dt, e.weight, e.estimate[rows]) for e in self.estimates]
        return TRFlowState(
            base.x, base.scheduler, base.step, base.x0, pick(self.noise), pick(self.total), self.kept_weight, estimates
        )


def kept_steps(sigmas: list[float], t_low: float, t_high: float) -> list[int]:
    """Indices i of the steps (t_i = sigmas[i], i < len(sigmas) - 1) whose time lies in [t_low, t_high]."""
    return [i for i, t in enumerate(sigmas[:-1]) if t_low - TOLERANCE <= t <= t_high + TOLERANCE]


def trflow_weights(sigmas: list[float], t_low: float, t_high: float) -> dict[int, float]:
    """Eq. 3 truncated to [t_low, t_high]: step index -> renormalised weight dt_i / sum_kept dt_j (they sum to 1)."""
    kept = kept_steps(sigmas, t_low, t_high)
    dts = {i: sigmas[i] - sigmas[i + 1] for i in kept}
    total = sum(dts.values())
    return {i: dt / total for i, dt in dts.items()}


class TRFlowSampler(SchedulerSampler):
    """T-RFlow over [t_low, t_high] (paper's best: [0.3, 0.7]); [0, 1] is the plain Euler sampler.

    Args:
        num_steps: s, the Euler steps of the full schedule (the backbone scheduler's sigmas).
        t_low, t_high: the kept interval of step times, 0 <= t_low < t_high <= 1 (t = 1 is noise).
        shift: overrides the scheduler's shift (None: the checkpoint's).
        estimate: `euler` (e_i = x_T - S v_i; the sum is exactly Euler) or `x0` (e_i = x_{t_i} - t_i v_i).
        keep_estimates: keep every computed step's estimate on the returned state (for figure-2-style analysis);
            off by default, so memory does not grow with the steps.
    """

    def __init__(
        self,
        num_steps: int = 20,
        t_low: float = 0.3,
        t_high: float = 0.7,
        shift: float | None = None,
        estimate: str = "euler",
        keep_estimates: bool = False,
    ) -> None:
        super().__init__(num_steps, shift)
        require(
            0.0 <= t_low < t_high <= 1.0,
            f"T-RFlow needs 0 <= t_low < t_high <= 1, got t_low={t_low}, t_high={t_high}: e.g. t_low 0.3, t_high 0.7",
        )
        require(estimate in ESTIMATES, f"estimate must be one of {ESTIMATES}, not {estimate!r}")
        self.t_low, self.t_high = float(t_low), float(t_high)
        self.estimate = estimate
        self.keep_estimates = keep_estimates

    def check(self, parts: Parts) -> None:
        """Refuse a backbone that is not rectified flow (its output is not a velocity; eq. 1 does not apply), an
        interval that holds no step of its `num_steps` schedule, and a method whose frames' trajectories span several
        walks (PA-VDM's windows: a frame's terms would be split between walks; T-RFlow is defined per frame over one
        whole trajectory, which a clip-by-clip method walks in one go)."""
        self._check_flow(parts.backbone)
        self.check_steps(parts.backbone, self.num_steps)
        if parts.method.trajectory != "whole":
            raise LvgError(
                f"{parts.names(self, parts.method)}: T-RFlow sums each frame's estimates over one schedule shared by "
                "the clip's frames, but this method steps frames at different times (PA-VDM's windows, diffusion "
                "forcing): use lvg.sampling.EulerSampler with it"
            )

    def walks_per_frame(self, backbone) -> bool:
        return False

    def solver(self, backbone) -> str:
        return "euler"  # Euler on the scheduler's sigmas, whatever the checkpoint's scheduler

    def check_steps(self, backbone, num_steps: int) -> None:
        """Refuse a step count whose schedule holds no step in [t_low, t_high] (a k-step preview's too)."""
        scheduler = backbone.make_scheduler(self.shift)
        scheduler.set_timesteps(num_steps)
        self._check_interval(scheduler.sigmas.tolist())

    def _check_flow(self, backbone) -> None:
        require_flow(backbone, self, "use lvg.sampling.SchedulerSampler with it, or a flow backbone (toy, Wan)")

    def _check_interval(self, sigmas: list[float]) -> None:
        require(
            bool(kept_steps(sigmas, self.t_low, self.t_high)),
            f"T-RFlow interval [{self.t_low}, {self.t_high}] holds no step of the {len(sigmas) - 1}-step schedule "
            f"(times {', '.join(f'{t:.3f}' for t in sigmas[:-1])}): widen the interval or use more steps",
        )

    def start(self, x: torch.Tensor, backbone, num_steps: int | None = None) -> TRFlowState:
        """A fresh run from noise `x` over `num_steps` (default: ours; a k-step search preview passes its k)."""
        self._check_flow(backbone)
        base = super().start(x, backbone, num_steps)
        self._check_interval(base.scheduler.sigmas.tolist())
        return TRFlowState(base.x, base.scheduler, 0, noise=base.x)

    def run(
        self,
        denoise: Denoise,
        x: torch.Tensor | SamplingState,
        backbone,
        generator: Generators = None,
        callback: StepCallback | None = None,
        num_steps: int | None = None,
        stop: int | None = None,
        times: torch.Tensor | None = None,
    ) -> TRFlowState:
        """Euler from noise `x` (or continue a `TRFlowState`) up to step `stop` (default: the end), the model told
        the times of `times` (default: the schedule on every frame); once the last kept step is taken the state is
        done and its `x` is the T-RFlow result. T-RFlow is deterministic: `generator` is accepted for the common
        interface and not used."""
        state = x if isinstance(x, TRFlowState) else self.start(x, backbone, num_steps)
        scheduler = state.scheduler
        timesteps, sigmas = scheduler.timesteps, scheduler.sigmas.tolist()
        steps = len(timesteps)
        stop = checked_stop(state, stop)
        weights = trflow_weights(sigmas, self.t_low, self.t_high)
        needed = max(weights) + 1  # no term after the last kept step: its model calls are skipped
        span = sigmas[0] - sigmas[-1]  # S, the sum of all dt_i
        scale = float(scheduler.config.num_train_timesteps)
        x, x0, total, kept_weight = state.x, state.x0, state.total, state.kept_weight
        estimates = list(state.estimates)
        for i in range(state.step, min(stop, needed)):
            t, dt = sigmas[i], sigmas[i] - sigmas[i + 1]
            if times is None:
                t_rows = uniform_rows(float(timesteps[i]) / scale, x.shape[0], x.shape[2], x.device)
            else:
                t_rows = times[i].to(x.device).expand(x.shape[0], -1)
            v = denoise(x, t_rows)
            x0 = x - t * v
            e = state.noise - span * v if self.estimate == "euler" else x0
            w = weights.get(i, 0.0)
            if w > 0:
                total = w * e if total is None else total + w * e
                kept_weight += w
            if self.keep_estimates:
                estimates.append(StepEstimate(t, dt, w, e.detach().cpu()))
            x = x - dt * v
            if callback is not None:
                callback(i, float(timesteps[i]) / scale, x)
        if stop >= needed:
            return TRFlowState(total, scheduler, steps, x0, state.noise, total, kept_weight, estimates)
        return TRFlowState(x, scheduler, stop, x0, state.noise, total, kept_weight, estimates)
