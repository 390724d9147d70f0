"""T-RFlow (error-free paper §3.2, §3.4) on the tiny toy model: Euler reproduction, weights, skipped model calls."""

import pytest
import torch

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.backbones.base import Condition
from lvg.errors import LvgError
from lvg.methods import ChunkwiseI2V
from lvg.noise.schedules import uniform_times
from lvg.sampling import SchedulerSampler, TRFlowSampler
from lvg.sampling.trflow import trflow_weights
from lvg.search import KStepSearch
from lvg.search.base import ClipContext, draw_noise

SHAPE = (2, 3, 4, 16, 16)


@pytest.fixture(scope="module")
def toy(tiny_toy_dir):
    return Toy(path=str(tiny_toy_dir))


def counting_denoise(backbone, calls: list):
    """The tiny toy's denoiser for a batch of 2, recording the flow time of every model call."""
    g = torch.Generator().manual_seed(1)
    cond = Condition(backbone.encode_prompts(["a red circle", "a blue square"]), torch.zeros(SHAPE), torch.zeros(2, 4))
    cond.latents[:, :, :1] = torch.rand(2, 3, 1, 16, 16, generator=g) * 2 - 1
    cond.mask[:, :1] = 1
    predict = backbone.denoiser(cond)

    def denoise(x, t):
        calls.append(float(t[0, 0]))
        return predict(x, t)

    return denoise


def noise(seed=0):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shift", [None, 3.0])
def test_full_interval_reproduces_the_euler_scheduler(toy, shift):
    with torch.no_grad():
        euler = SchedulerSampler(6, shift=shift)(counting_denoise(toy, []), noise(), toy)
        trflow = TRFlowSampler(6, t_low=0.0, t_high=1.0, shift=shift)(counting_denoise(toy, []), noise(), toy)
    assert type(toy.make_scheduler()).__name__ == "FlowMatchEulerDiscreteScheduler"
    torch.testing.assert_close(trflow, euler, atol=2e-5, rtol=1e-5)


def test_truncated_interval_changes_the_result(toy):
    with torch.no_grad():
        full = TRFlowSampler(6, 0.0, 1.0)(counting_denoise(toy, []), noise(), toy)
        cut = TRFlowSampler(6, 0.3, 0.7)(counting_denoise(toy, []), noise(), toy)
    assert (full - cut).abs().mean() > 1e-3


CASES = [(20, 0.3, 0.7, None), (7, 0.0, 0.5, 3.0), (50, 0.1, 1.0, 5.0)]


@pytest.mark.parametrize(("steps", "low", "high", "shift"), CASES)
def test_kept_weights_sum_to_one_and_follow_the_step_sizes(toy, steps, low, high, shift):
    scheduler = toy.make_scheduler(shift)
    scheduler.set_timesteps(steps)
    sigmas = scheduler.sigmas.tolist()
    weights = trflow_weights(sigmas, low, high)
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(low - 1e-6 <= sigmas[i] <= high + 1e-6 for i in weights)
    assert len(weights) < steps or (low, high) == (0.0, 1.0)
    i, j = min(weights), max(weights)
    ratio = (sigmas[i] - sigmas[i + 1]) / (sigmas[j] - sigmas[j + 1])
    assert weights[i] / weights[j] == pytest.approx(ratio)


def test_no_model_call_below_t_low(toy):
    calls = []
    sampler = TRFlowSampler(10, t_low=0.45, t_high=0.8, keep_estimates=True)
    with torch.no_grad():
        state = sampler.run(counting_denoise(toy, calls), noise(), toy)
    scheduler = toy.make_scheduler()
    scheduler.set_timesteps(10)
    times = scheduler.sigmas[:-1].tolist()
    assert state.done and min(calls) >= 0.45 - 1e-6
    assert len(calls) == sum(t >= 0.45 for t in times) < 10  # steps above t_high are still computed
    assert any(t > 0.8 for t in calls)
    kept = [e for e in state.estimates if e.kept]
    assert len(state.estimates) == len(calls) and {e.t for e in kept} == {t for t in times if 0.45 <= t <= 0.8}
    assert sum(e.weight for e in kept) == pytest.approx(1.0) and state.kept_weight == pytest.approx(1.0)
    assert kept[0].weight / kept[-1].weight == pytest.approx(kept[0].dt / kept[-1].dt)
    torch.testing.assert_close(state.x, sum(e.weight * e.estimate for e in kept))


def test_estimates_are_not_kept_by_default(toy):
    with torch.no_grad():
        state = TRFlowSampler(4, 0.2, 0.9).run(counting_denoise(toy, []), noise(), toy)
    assert state.estimates == [] and state.done


def test_stop_and_continue_equals_one_run(toy):
    sampler = TRFlowSampler(8, 0.3, 0.7)
    with torch.no_grad():
        whole = sampler.run(counting_denoise(toy, []), noise(), toy)
        part = sampler.run(counting_denoise(toy, []), noise(), toy, stop=3)
        assert not part.done and part.x0 is not None
        rest = sampler.run(counting_denoise(toy, []), part, toy)
    torch.testing.assert_close(rest.x, whole.x)


def test_x0_reading_is_a_different_estimate(toy):
    with torch.no_grad():
        euler = TRFlowSampler(5, 0.0, 1.0)(counting_denoise(toy, []), noise(), toy)
        x0 = TRFlowSampler(5, 0.0, 1.0, estimate="x0")(counting_denoise(toy, []), noise(), toy)
    assert (euler - x0).abs().mean() > 1e-4


@pytest.mark.parametrize(("low", "high"), [(0.7, 0.3), (0.5, 0.5), (-0.1, 0.5), (0.2, 1.5)])
def test_bad_intervals_are_refused(low, high):
    with pytest.raises(LvgError, match="t_low"):
        TRFlowSampler(10, low, high)


def test_an_interval_without_a_schedule_step_is_refused(toy):
    with pytest.raises(LvgError, match="holds no step"):
        TRFlowSampler(2, 0.6, 0.9).run(counting_denoise(toy, []), noise(), toy)  # times 1.0, 0.5


def test_non_flow_backbone_is_refused_when_the_module_is_built(tiny_toy_dir):
    backbone = Toy(path=str(tiny_toy_dir))
    backbone.prediction_type = "epsilon"  # as SVD and CogVideoX report
    with pytest.raises(LvgError, match="rectified-flow"):
        LongVideoModule(backbone, ChunkwiseI2V(), TRFlowSampler(4), frames_per_clip=4, height=16, width=16)
    LongVideoModule(backbone, ChunkwiseI2V(), SchedulerSampler(4), frames_per_clip=4, height=16, width=16)


@pytest.mark.parametrize("strategy", ["restart", "prefix"])
def test_trflow_inside_kstep_search(tiny_toy_dir, strategy):
    m = LongVideoModule(
        Toy(path=str(tiny_toy_dir)), ChunkwiseI2V(), TRFlowSampler(6, 0.3, 0.7), frames_per_clip=4, height=16, width=16
    )
    bb = m.backbone
    guide = torch.rand(1, 3, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    latents, mask = m.method.clip_condition(bb, guide, 4)
    cond = bb.conditioning(["a red circle"], latents, mask)
    ctx = ClipContext(
        tuple(latents.shape), 5, 0, bb, m.sampler, lambda n: bb.denoiser(cond.repeat(n)), guide[0, :, -1],
        lambda n: uniform_times(m.sampler.schedule(bb, n), latents.shape[2]), 1,
    )  # fmt: skip
    with torch.no_grad():
        start = KStepSearch(candidates=3, k=3, strategy=strategy)(ctx)
        x = m.sampler.run(ctx.make_denoise(1), start.start, bb, start.generator).x
        noise, _ = draw_noise(ctx, start.log["winner"])
        direct = m.sampler(ctx.make_denoise(1), noise, bb)
    assert len(set(start.log["scores"])) == 3
    torch.testing.assert_close(x, direct, atol=1e-5, rtol=0)  # the winner's T-RFlow run, continued or restarted
