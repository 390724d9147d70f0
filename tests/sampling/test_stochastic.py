"""SchedulerSampler(stochastic=True): diffusers' stochastic flow-match Euler step, re-noising the clean estimate to
the next time with fresh noise from the run's generator."""

import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from lvg.errors import LvgError
from lvg.sampling import SchedulerSampler


@torch.no_grad()
def test_a_step_renoises_the_clean_estimate_to_the_next_time_with_the_generators_noise(setup):
    toy, denoise, x = setup
    sampler = SchedulerSampler(4, shift=3.0, stochastic=True)
    state = sampler.run(denoise, x, toy, torch.Generator().manual_seed(5), stop=1)
    t_next = float(sampler.schedule(toy)[1])
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
    assert 0.5 < t_next < 1
    torch.testing.assert_close(state.x, (1 - t_next) * state.x0 + t_next * eps)
    plain = SchedulerSampler(4, shift=3.0).run(denoise, x, toy, stop=1)
    torch.testing.assert_close(plain.x0, state.x0)  # the same first model call; only the update differs
    assert (plain.x - state.x).abs().mean() > 0.1


@torch.no_grad()
def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_sample(setup):
    toy, denoise, x = setup
    sampler = SchedulerSampler(4, stochastic=True)
    a, b, c = (sampler(denoise, x, toy, torch.Generator().manual_seed(s)) for s in (1, 1, 2))
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.01


def test_it_is_a_flow_match_euler_scheduler_and_says_so(setup):
    toy, _, _ = setup
    scheduler = SchedulerSampler(4, shift=5.0, stochastic=True).make_scheduler(toy)
    assert isinstance(scheduler, FlowMatchEulerDiscreteScheduler)
    assert scheduler.config.stochastic_sampling and scheduler.config.shift == 5.0
    assert SchedulerSampler(4, stochastic=True).solver(toy) == "stochastic euler"
    assert not SchedulerSampler(4).make_scheduler(toy).config.stochastic_sampling


@torch.no_grad()
def test_a_per_frame_walk_is_refused(setup):
    toy, denoise, x = setup
    times = torch.stack([torch.tensor([1.0, 0.75, 0.5, 0.25]) - 0.25 * r for r in range(4)]).clamp(min=0)
    with pytest.raises(LvgError, match="re-noises whole clips"):
        SchedulerSampler(3, stochastic=True).walk(denoise, x, times, toy, per_frame=True)
