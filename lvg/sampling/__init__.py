"""Samplers (DESIGN.md axis 3): each walks a times matrix [R + 1, F] (`lvg.contracts.Sampler`)."""

from lvg.sampling.euler import EulerSampler
from lvg.sampling.per_frame_euler import euler_rows
from lvg.sampling.scheduler_loop import SamplingState, SchedulerSampler
from lvg.sampling.trflow import TRFlowSampler, TRFlowState

__all__ = ["EulerSampler", "SamplingState", "SchedulerSampler", "TRFlowSampler", "TRFlowState", "euler_rows"]
