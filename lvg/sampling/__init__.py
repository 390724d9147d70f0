"""Per-clip denoising loops. All share the signature `sampler(denoise, x, backbone, generator, callback)`."""

from lvg.sampling.scheduler_loop import SamplingState, SchedulerSampler

__all__ = ["SamplingState", "SchedulerSampler"]
