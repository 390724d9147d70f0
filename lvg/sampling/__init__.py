"""Per-clip denoising loops. All share the signature `sampler(denoise, x, backbone, generator, callback)`."""

from lvg.sampling.per_frame_euler import euler_rows
from lvg.sampling.scheduler_loop import SamplingState, SchedulerSampler

__all__ = ["SamplingState", "SchedulerSampler", "euler_rows"]
