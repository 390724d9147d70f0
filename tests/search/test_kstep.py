"""Algorithm 1 (k-step noise search) on the tiny toy model."""

import pytest
import torch

from lvg import LongVideoModule
from lvg.backbones import Toy
from lvg.errors import LvgError
from lvg.methods import ChunkwiseI2V, GenerationRequest
from lvg.noise.schedules import uniform_times
from lvg.sampling import SchedulerSampler
from lvg.search import ColourConsistencyScorer, GaussianNoise, KStepSearch
from lvg.search.base import ClipContext, draw_noise

STEPS = 4


def module(toy_dir, noise_init=None, steps=STEPS):
    return LongVideoModule(
        Toy(path=str(toy_dir)),
        ChunkwiseI2V(),
        SchedulerSampler(steps),
        noise_init,
        frames_per_clip=4,
        height=16,
        width=16,
    )


def request(clips=2):
    start = torch.rand(1, 3, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    return GenerationRequest(start, ["a red circle"] * clips, 4, seed=11)


def video(m, req, logs=None):
    """The video [3, T, H, W]; each clip's search log goes into `logs`."""
    results = list(m.generate(req))
    if logs is not None:
        logs.extend(r.search for r in results if r.search is not None)
    return torch.cat([r.frames for r in results], dim=1)


def context(m, seed=5):
    """One clip's search context, as the method builds it."""
    bb, method = m.backbone, m.method
    guide = torch.rand(1, 3, 1, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    latents, mask = method.clip_condition(bb, guide, 4)
    cond = bb.conditioning(["a blue square"], latents, mask)
    return ClipContext(
        tuple(latents.shape), seed, 0, bb, m.sampler, lambda n: bb.denoiser(cond.repeat(n)), guide[0, :, -1],
        lambda n: uniform_times(m.sampler.schedule(bb, n), latents.shape[2]), 1,
    )  # fmt: skip


def full_run(ctx, candidate):
    """The plain s-step run from candidate `candidate`'s noise, alone."""
    noise, generator = draw_noise(ctx, candidate)
    return ctx.sampler.run(ctx.make_denoise(1), noise, ctx.backbone, generator).x


def test_chosen_candidate_is_the_argmax_of_logged_scores(tiny_toy_dir):
    logs = []
    video(module(tiny_toy_dir, KStepSearch(candidates=5, k=2)), request(), logs)
    assert len(logs) == 2
    for log in logs:
        assert len(log["scores"]) == 5 and len(set(log["scores"])) > 1
        assert log["winner"] == max(range(5), key=lambda j: log["scores"][j])
        assert (log["m"], log["k"], log["s"]) == (5, 2, STEPS) and log["search_seconds"] > 0


def test_restart_resamples_the_winning_noise_with_all_steps(tiny_toy_dir):
    m = module(tiny_toy_dir)
    ctx = context(m)
    start = KStepSearch(candidates=4, k=2)(ctx)
    x = m.sampler.run(ctx.make_denoise(1), start.start, ctx.backbone, start.generator).x
    assert torch.equal(x, full_run(ctx, start.log["winner"]))


def test_brute_force_full_run_of_the_chosen_noise_equals_its_preview(tiny_toy_dir):
    m = module(tiny_toy_dir)
    ctx = context(m)
    start = KStepSearch(candidates=4, k=STEPS)(ctx)  # k = s
    assert start.start.done  # the winning preview is returned as the full run, not recomputed
    torch.testing.assert_close(start.start.x, full_run(ctx, start.log["winner"]), atol=1e-5, rtol=0)


def test_prefix_continues_the_winner_as_if_uninterrupted(tiny_toy_dir):
    m = module(tiny_toy_dir)
    ctx = context(m)
    start = KStepSearch(candidates=4, k=2, strategy="prefix")(ctx)
    assert start.start.step == 2
    x = m.sampler.run(ctx.make_denoise(1), start.start, ctx.backbone, start.generator).x
    torch.testing.assert_close(x, full_run(ctx, start.log["winner"]), atol=1e-5, rtol=0)


def test_one_candidate_is_the_naive_method(tiny_toy_dir):
    naive = video(module(tiny_toy_dir, GaussianNoise()), request())
    searched = video(module(tiny_toy_dir, KStepSearch(candidates=1, k=2)), request())
    assert torch.equal(naive, searched)


def test_batched_candidates_score_like_the_sequential_loop(tiny_toy_dir):
    m = module(tiny_toy_dir)
    batched = KStepSearch(candidates=5, k=2)(context(m)).log
    sequential = KStepSearch(candidates=5, k=2, max_batch=1)(context(m)).log
    sub_batched = KStepSearch(candidates=5, k=2, max_batch=2)(context(m)).log
    torch.testing.assert_close(torch.tensor(batched["scores"]), torch.tensor(sequential["scores"]), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.tensor(batched["scores"]), torch.tensor(sub_batched["scores"]), atol=1e-5, rtol=0)
    assert batched["winner"] == sequential["winner"] == sub_batched["winner"]


def test_search_changes_the_video_and_reproduces(tiny_toy_dir):
    search = KStepSearch(candidates=6, k=2)
    a = video(module(tiny_toy_dir, search), request())
    b = video(module(tiny_toy_dir, search), request())
    naive = video(module(tiny_toy_dir), request())
    assert torch.equal(a, b)
    assert not torch.equal(a, naive)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"k": 0}, "k must be at least 1"), ({"candidates": 0}, "candidates"), ({"strategy": "beam"}, "strategy")],
)
def test_bad_search_settings_are_one_clear_error(kwargs, message):
    with pytest.raises(LvgError, match=message):
        KStepSearch(**kwargs)


def test_k_above_the_sampler_steps_is_refused_when_the_module_is_built(tiny_toy_dir):
    with pytest.raises(LvgError, match="k=9 is more than the sampler's 4 steps"):
        module(tiny_toy_dir, KStepSearch(candidates=2, k=9))


def test_without_a_scorer_a_real_backbone_asks_for_eq_4s_clip_in_one_line(tiny_wan_dir, tiny_toy_dir):
    from lvg.backbones import Wan
    from lvg.methods import Extension
    from lvg.sampling import SchedulerSampler

    with pytest.raises(LvgError, match="eq. 4's CLIP scorer, which needs its model: give .*CLIPScorer"):
        LongVideoModule(Wan(str(tiny_wan_dir)), Extension(condition_frames=1), SchedulerSampler(3),
                        KStepSearch(candidates=2, k=2), frames_per_clip=9, height=16, width=16)  # fmt: skip
    search = KStepSearch(candidates=2, k=2)
    module(tiny_toy_dir, search)
    assert isinstance(search.scorer, ColourConsistencyScorer)  # the toy world's proxy, for the toy backbone only
