"""Flow-match Euler on the backbone scheduler's own sigmas: the untruncated baseline of T-RFlow.

A checkpoint's scheduler may be multistep (Wan2.1 ships UniPC): "with vs without T-RFlow" run with
`SchedulerSampler` then mixes a change of solver into the effect of the truncation (error-free §3.4 compares
truncation intervals of one Euler sampler). `EulerSampler` is Euler on the same sigmas (shift included), the model
called at the same timesteps: it is T-RFlow over [0, 1] (eq. 3 with every term kept is exactly the Euler sum), so a
comparison with `TRFlowSampler` changes the interval and nothing else. It also steps frames at different times
(PA-VDM's windows), which a multistep scheduler cannot.
"""

from __future__ import annotations

import torch

from lvg.contracts import Backbone, Parts, require_flow
from lvg.sampling.scheduler_loop import SchedulerSampler
from lvg.sampling.trflow import TRFlowSampler, TRFlowState


class EulerSampler(SchedulerSampler):
    """Euler on the backbone scheduler's sigmas (module doc). Args: num_steps, shift: as `SchedulerSampler`."""

    def check(self, parts: Parts) -> None:
        require_flow(parts.backbone, self, "Euler on the flow ODE needs a velocity; use lvg.sampling.SchedulerSampler")

    def walks_per_frame(self, backbone: Backbone) -> bool:
        return True

    def run(self, denoise, x, backbone, generator=None, callback=None, num_steps=None, stop=None, times=None):
        """Euler from noise `x` (or continue a state) up to step `stop`: T-RFlow over [0, 1] (module doc)."""
        whole = TRFlowSampler(self.num_steps, 0.0, 1.0, self.shift)
        return whole.run(denoise, x, backbone, generator, callback, num_steps, stop, times)

    def start(self, x: torch.Tensor, backbone: Backbone, num_steps: int | None = None) -> TRFlowState:
        return TRFlowSampler(self.num_steps, 0.0, 1.0, self.shift).start(x, backbone, num_steps)
