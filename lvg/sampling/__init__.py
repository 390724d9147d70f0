"""Per-clip denoising loops. All share the signature `sampler(denoise, x, backbone, generator, callback)`."""

from lvg.sampling.per_frame_euler import euler_rows
from lvg.sampling.scheduler_loop import SamplingState, SchedulerSampler
from lvg.sampling.trflow import TRFlowSampler, TRFlowState

__all__ = ["SamplingState", "SchedulerSampler", "TRFlowSampler", "TRFlowState", "euler_rows"]
